package service

import "github.com/herald-dev/herald"

// notFound names what was not found in a store's ENOTFOUND ("endpoint
// not found"); other errors pass unchanged.
func notFound(err error, what string) error {
	if herald.IsNotFound(err) {
		return herald.Errorf(herald.ENOTFOUND, "%s not found", what)
	}
	return err
}

// invalid returns an EINVALID error for one field.
func invalid(location string, value any, format string, args ...any) error {
	var v herald.Validation
	v.Add(location, value, format, args...)
	return v.Err()
}
