package service

import (
	"bytes"
	"context"
	"encoding/json"

	"github.com/herald-dev/herald"
)

// EventType returns the project's event type name; ENOTFOUND "event type
// not found" when there is none.
func (s *Service) EventType(ctx context.Context, projectID, name string) (*herald.EventType, error) {
	et, err := s.st.GetEventType(ctx, projectID, name)
	return et, notFound(err, "event type")
}

// CreateEventType validates et (ValidateEventType) and stores it; a name
// the project has already is an ECONFLICT.
func (s *Service) CreateEventType(ctx context.Context, et *herald.EventType) error {
	var v herald.Validation
	switch {
	case et.Name == "":
		v.Add("body.name", nil, "required")
	case !herald.ValidEventTypeName(et.Name):
		v.Add("body.name", herald.Clip(et.Name), "1 to %d characters: dot-separated parts of letters, digits, '_' and '-' (e.g. \"user.created\")", herald.EventTypeNameMaxLen)
	}
	ValidateEventType(&v, et)
	if err := v.Err(); err != nil {
		return err
	}
	now := s.Now()
	et.CreatedAt, et.UpdatedAt = now, now
	if err := s.st.CreateEventType(ctx, et); err != nil {
		if herald.ErrorCode(err) == herald.ECONFLICT {
			return herald.Errorf(herald.ECONFLICT, "event type %q exists", et.Name).WithKind(herald.KindEventTypeExists)
		}
		return err
	}
	s.eng.EventTypesChanged(et.ProjectID)
	return nil
}

// UpdateEventType validates et, an edited stored event type (the name
// cannot change), and stores it.
func (s *Service) UpdateEventType(ctx context.Context, et *herald.EventType) error {
	var v herald.Validation
	ValidateEventType(&v, et)
	if err := v.Err(); err != nil {
		return err
	}
	et.UpdatedAt = s.Now()
	if err := s.st.UpdateEventType(ctx, et); err != nil {
		return notFound(err, "event type")
	}
	s.eng.EventTypesChanged(et.ProjectID)
	return nil
}

// DeleteEventType removes the project's event type name.
func (s *Service) DeleteEventType(ctx context.Context, projectID, name string) error {
	if err := s.st.DeleteEventType(ctx, projectID, name); err != nil {
		return notFound(err, "event type")
	}
	s.eng.EventTypesChanged(projectID)
	return nil
}

// ValidateEventType checks the description, compiles the schema (a JSON
// Schema object or boolean), and checks the example (event data: a JSON
// object) against it. Schema and example are stored compacted.
func ValidateEventType(v *herald.Validation, et *herald.EventType) {
	if len(et.Description) > herald.DescriptionMaxLen {
		v.Add("body.description", nil, "at most %d characters", herald.DescriptionMaxLen)
	}
	var schema *herald.Schema
	if et.Schema != nil {
		switch t := jsonType(et.Schema); {
		case t == "":
			v.Add("body.schema", nil, "not valid JSON")
		case t != "object" && t != "boolean":
			v.Add("body.schema", nil, "a JSON Schema is an object (or a boolean)")
		default:
			et.Schema = compactJSON(et.Schema)
			if sc, err := herald.CompileSchema(et.Schema); err != nil {
				v.Add("body.schema", nil, "%s", err.Error())
			} else {
				schema = sc
			}
		}
	}
	if et.Example != nil {
		switch jsonType(et.Example) {
		case "":
			v.Add("body.example", nil, "not valid JSON")
		case "object":
			et.Example = compactJSON(et.Example)
			if schema != nil {
				v.Fields = append(v.Fields, schema.Validate(et.Example, "body.example")...)
			}
		default:
			v.Add("body.example", nil, "an example is event data: a JSON object")
		}
	}
}

// jsonType returns the JSON type of raw, "" when it is not valid JSON.
func jsonType(raw json.RawMessage) string {
	b := bytes.TrimSpace(raw)
	if len(b) == 0 || !json.Valid(b) {
		return ""
	}
	switch b[0] {
	case '{':
		return "object"
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	}
	return "number"
}

// compactJSON drops a client's whitespace from valid JSON.
func compactJSON(raw json.RawMessage) json.RawMessage {
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return raw
	}
	return b.Bytes()
}
