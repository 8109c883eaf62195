package bodytemplate

import "time"

// WithTimeout returns a copy of t with another time bound, for tests whose
// subject is not time and that must pass on a busy machine.
func WithTimeout(t *Template, d time.Duration) *Template {
	c := *t
	c.timeout = d
	return &c
}
