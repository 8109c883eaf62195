// Package pages holds what the dashboard and the portal share to serve
// their HTML pages: the parsing of each page template together with the
// layout it fills in, and whether a request came over TLS.
package pages

import (
	"fmt"
	"html/template"
	"io/fs"
	"path"
	"strings"
)

// Parse parses every templates/<name>.html of fsys but the layout, each
// together with templates/layout.html, so that every page defines its own
// blocks of the one layout. The result is keyed by name.
func Parse(fsys fs.FS, funcs template.FuncMap) (map[string]*template.Template, error) {
	names, err := fs.Glob(fsys, "templates/*.html")
	if err != nil {
		return nil, err
	}
	out := map[string]*template.Template{}
	for _, p := range names {
		name := strings.TrimSuffix(path.Base(p), ".html")
		if name == "layout" {
			continue
		}
		t, err := template.New(name).Funcs(funcs).ParseFS(fsys, "templates/layout.html", p)
		if err != nil {
			return nil, fmt.Errorf("template %s: %w", name, err)
		}
		out[name] = t
	}
	return out, nil
}
