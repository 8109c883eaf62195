package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// The API tests check every answer they receive against openapi.json
// (bundle.do calls checkOpenAPI): its status must be documented for the
// operation, and its body must match the documented schema. So the
// document cannot drift from what the server answers.

// openapiLoc is the document's location for the schema compiler; its
// schemas are compiled by JSON pointer below it.
const openapiLoc = "urn:herald:openapi.json"

type openapiChecker struct {
	doc      map[string]any
	compiler *jsonschema.Compiler
	mu       sync.Mutex
	schemas  map[string]*jsonschema.Schema
}

var (
	openapiOnce sync.Once
	openapiC    *openapiChecker
	openapiErr  error
)

func loadOpenAPIChecker() (*openapiChecker, error) {
	openapiOnce.Do(func() {
		c := &openapiChecker{compiler: jsonschema.NewCompiler(), schemas: map[string]*jsonschema.Schema{}}
		if openapiErr = json.Unmarshal(openapiDoc, &c.doc); openapiErr != nil {
			return
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(openapiDoc))
		if err != nil {
			openapiErr = err
			return
		}
		c.compiler.DefaultDraft(jsonschema.Draft2020)
		if openapiErr = c.compiler.AddResource(openapiLoc, doc); openapiErr != nil {
			return
		}
		openapiC = c
	})
	return openapiC, openapiErr
}

// schemaAt compiles (once) the schema at a JSON pointer of the document.
func (c *openapiChecker) schemaAt(pointer string) (*jsonschema.Schema, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, ok := c.schemas[pointer]; ok {
		return s, nil
	}
	s, err := c.compiler.Compile(openapiLoc + "#" + pointer)
	if err != nil {
		return nil, err
	}
	c.schemas[pointer] = s
	return s, nil
}

func escapePointer(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

// matchPath returns the document's path template that matches path.
func (c *openapiChecker) matchPath(path string) (string, bool) {
	paths, _ := c.doc["paths"].(map[string]any)
	segs := strings.Split(path, "/")
	for tmpl := range paths {
		ts := strings.Split(tmpl, "/")
		if len(ts) != len(segs) {
			continue
		}
		ok := true
		for i := range ts {
			if strings.HasPrefix(ts[i], "{") || ts[i] == segs[i] {
				continue
			}
			ok = false
			break
		}
		if ok {
			return tmpl, true
		}
	}
	return "", false
}

// check validates one answer; the error says how it differs from the
// document.
func (c *openapiChecker) check(method, rawPath string, status int, header http.Header, body []byte) error {
	u, err := url.Parse(rawPath)
	if err != nil {
		return err
	}
	ctype, _, _ := mime.ParseMediaType(header.Get("Content-Type"))
	tmpl, ok := c.matchPath(u.EscapedPath())
	var op map[string]any
	if ok {
		op, _ = c.doc["paths"].(map[string]any)[tmpl].(map[string]any)[strings.ToLower(method)].(map[string]any)
	}
	if op == nil {
		// No such operation: a 404 or 405 problem, or the dashboard.
		if ctype == "application/problem+json" {
			return c.validate("/components/schemas/Problem", body)
		}
		return nil
	}
	responses, _ := op["responses"].(map[string]any)
	code := strconv.Itoa(status)
	resp, ok := responses[code].(map[string]any)
	pointer := "/paths/" + escapePointer(tmpl) + "/" + strings.ToLower(method) + "/responses/" + code
	if !ok {
		if resp, ok = responses["default"].(map[string]any); !ok {
			return fmt.Errorf("%s %s answered %d, which the document does not list for %s", method, tmpl, status, op["operationId"])
		}
		pointer = "/paths/" + escapePointer(tmpl) + "/" + strings.ToLower(method) + "/responses/default"
	}
	if ref, ok := resp["$ref"].(string); ok {
		pointer = strings.TrimPrefix(ref, "#")
		resp = c.doc["components"].(map[string]any)["responses"].(map[string]any)[strings.TrimPrefix(pointer, "/components/responses/")].(map[string]any)
	}
	content, _ := resp["content"].(map[string]any)
	if len(content) == 0 {
		if len(bytes.TrimSpace(body)) != 0 {
			return fmt.Errorf("%s %s %d: a body where the document has none", method, tmpl, status)
		}
		return nil
	}
	if method == http.MethodHead {
		return nil
	}
	if _, ok := content[ctype]; !ok {
		return fmt.Errorf("%s %s %d: Content-Type %q is not documented", method, tmpl, status, ctype)
	}
	if !strings.HasSuffix(ctype, "json") {
		return nil
	}
	return c.validate(pointer+"/content/"+escapePointer(ctype)+"/schema", body)
}

func (c *openapiChecker) validate(pointer string, body []byte) error {
	s, err := c.schemaAt(pointer)
	if err != nil {
		return fmt.Errorf("compile %s: %w", pointer, err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%s: body is not JSON: %w", pointer, err)
	}
	if err := s.Validate(inst); err != nil {
		return fmt.Errorf("the body does not match %s: %v\nbody: %s", pointer, err, truncateForLog(body))
	}
	return nil
}

func truncateForLog(b []byte) string {
	if len(b) > 2000 {
		return string(b[:2000]) + "…"
	}
	return string(b)
}

// checkOpenAPI fails t when the answer differs from the document.
func checkOpenAPI(t testing.TB, method, path string, status int, header http.Header, body []byte) {
	t.Helper()
	c, err := loadOpenAPIChecker()
	if err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if err := c.check(method, path, status, header, body); err != nil {
		t.Errorf("OpenAPI: %v", err)
	}
}

// Every example of the document matches the schema it illustrates, so
// that what a reader or a generator's mock sees is what the server sends.
func TestOpenAPIExamplesMatchTheirSchemas(t *testing.T) {
	t.Parallel()
	c, err := loadOpenAPIChecker()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	var walk func(v any, pointer string)
	walk = func(v any, pointer string) {
		m, ok := v.(map[string]any)
		if !ok {
			return
		}
		if ex, ok := m["example"]; ok {
			if _, ok := m["schema"]; ok {
				data, _ := json.Marshal(ex)
				if err := c.validate(pointer+"/schema", data); err != nil {
					t.Errorf("example at %s: %v", pointer, err)
				}
				n++
			}
		}
		for k, e := range m {
			walk(e, pointer+"/"+escapePointer(k))
		}
	}
	walk(c.doc, "")
	if n < 60 {
		t.Errorf("only %d examples checked", n)
	}
}

// Every operation has a description, and an example of its request body
// and of each answer that has a body.
func TestOpenAPIOperationsHaveDescriptionsAndExamples(t *testing.T) {
	t.Parallel()
	c, err := loadOpenAPIChecker()
	if err != nil {
		t.Fatal(err)
	}
	for tmpl, ops := range c.doc["paths"].(map[string]any) {
		for method, v := range ops.(map[string]any) {
			op := v.(map[string]any)
			name := strings.ToUpper(method) + " " + tmpl
			if d, _ := op["description"].(string); d == "" {
				t.Errorf("%s: no description", name)
			}
			if rb, ok := op["requestBody"].(map[string]any); ok {
				for ct, mt := range rb["content"].(map[string]any) {
					if _, ok := mt.(map[string]any)["example"]; !ok {
						t.Errorf("%s: no request example for %s", name, ct)
					}
				}
			}
			for code, r := range op["responses"].(map[string]any) {
				resp := r.(map[string]any)
				if ref, ok := resp["$ref"].(string); ok {
					resp = c.doc["components"].(map[string]any)["responses"].(map[string]any)[strings.TrimPrefix(ref, "#/components/responses/")].(map[string]any)
				}
				content, _ := resp["content"].(map[string]any)
				for ct, mt := range content {
					if _, ok := mt.(map[string]any)["example"]; !ok {
						t.Errorf("%s %s: no response example for %s", name, code, ct)
					}
				}
			}
		}
	}
}

// TestOpenAPIRequestFieldsHaveNoDefaultKeyword: openapi-typescript types a
// property with a `default` as required, so a request field whose default
// is written that way could not be left out by a TypeScript client. The
// default belongs in the description instead.
func TestOpenAPIRequestFieldsHaveNoDefaultKeyword(t *testing.T) {
	var doc struct {
		Paths      map[string]map[string]json.RawMessage `json:"paths"`
		Components struct {
			Schemas map[string]json.RawMessage `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(openapiDoc, &doc); err != nil {
		t.Fatal(err)
	}
	var bad []string
	var walk func(at string, v any)
	walk = func(at string, v any) {
		switch v := v.(type) {
		case map[string]any:
			if props, ok := v["properties"].(map[string]any); ok {
				for name, p := range props {
					if pm, ok := p.(map[string]any); ok {
						if _, has := pm["default"]; has {
							bad = append(bad, at+"/"+name)
						}
					}
				}
			}
			for k, x := range v {
				walk(at+"/"+k, x)
			}
		case []any:
			for _, x := range v {
				walk(at, x)
			}
		}
	}
	decode := func(raw json.RawMessage) any {
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	for name, raw := range doc.Components.Schemas {
		if strings.HasSuffix(name, "Create") || strings.HasSuffix(name, "Update") || strings.HasSuffix(name, "Input") || strings.HasSuffix(name, "Request") {
			walk(name, decode(raw))
		}
	}
	for path, ops := range doc.Paths {
		for method, raw := range ops {
			if op, ok := decode(raw).(map[string]any); ok {
				walk(method+" "+path, op["requestBody"])
			}
		}
	}
	if len(bad) > 0 {
		t.Errorf("request fields with a default keyword (move it to the description): %v", bad)
	}
}
