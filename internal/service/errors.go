package service

import (
	"errors"

	"github.com/herald-dev/herald"
)

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

// joinInvalid merges errors of which each is nil or an EINVALID listing
// fields into one EINVALID; any other error is returned first as is.
func joinInvalid(errs ...error) error {
	var v herald.Validation
	for _, err := range errs {
		if err == nil {
			continue
		}
		var he *herald.Error
		if !errors.As(err, &he) || he.Code != herald.EINVALID {
			return err
		}
		v.Fields = append(v.Fields, he.Fields...)
	}
	return v.Err()
}
