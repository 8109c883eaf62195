package herald

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// Schema is a compiled JSON Schema of an event type's data.
type Schema struct{ s *jsonschema.Schema }

// CompileSchema compiles a JSON Schema document (draft 2020-12 unless the
// document's $schema says otherwise). Remote references are not loaded.
func CompileSchema(raw json.RawMessage) (*Schema, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("schema is not valid JSON: %v", err)
	}
	c := jsonschema.NewCompiler()
	c.UseLoader(noLoader{})
	if err := c.AddResource("event.schema.json", doc); err != nil {
		return nil, err
	}
	s, err := c.Compile("event.schema.json")
	if err != nil {
		return nil, fmt.Errorf("schema does not compile: %v", err)
	}
	return &Schema{s: s}, nil
}

type noLoader struct{}

func (noLoader) Load(url string) (any, error) {
	return nil, fmt.Errorf("remote schema references are not loaded (%s)", url)
}

// Validate checks data against the schema and returns one FieldError per
// violation, located under base (e.g. "body.data").
func (s *Schema) Validate(data json.RawMessage, base string) []FieldError {
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return []FieldError{{Location: base, Message: "not valid JSON"}}
	}
	err = s.s.Validate(inst)
	if err == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return []FieldError{{Location: base, Message: err.Error()}}
	}
	var out []FieldError
	for _, u := range ve.BasicOutput().Errors {
		if u.Error == nil {
			continue
		}
		loc := base
		if u.InstanceLocation != "" {
			loc += strings.ReplaceAll(u.InstanceLocation, "/", ".")
		}
		out = append(out, FieldError{Location: loc, Message: u.Error.String()})
	}
	if len(out) == 0 {
		out = append(out, FieldError{Location: base, Message: ve.Error()})
	}
	return out
}
