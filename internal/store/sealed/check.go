package sealed

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/secret"
	"github.com/herald-dev/herald/internal/store"
)

// keyCheckSetting is the setting that holds keyCheckText encrypted with the
// key the database's secrets are encrypted with; it lets Open tell at
// start whether the configured key (or the lack of one) can read them.
const keyCheckSetting = "encryption_key_check"

const keyCheckText = "herald encryption key check"

// keyProbeProjects bounds the search for an encrypted value in a database
// written before the key check existed: the endpoints of this many
// projects, one each, are looked at.
const keyProbeProjects = 100

// Open is New, after checking that c can read the secrets inner holds:
// with no key (c nil), that none are encrypted; with a key, that they were
// encrypted with it. Otherwise the store is not opened and the error says
// what to do about HERALD_ENCRYPTION_KEY, instead of a server that starts
// and then fails every read of an endpoint. A key used for the first time
// is recorded (an encrypted check value in the settings) for later starts.
func Open(ctx context.Context, inner store.Store, c *secret.Cipher) (store.Store, error) {
	if err := checkKey(ctx, inner, c); err != nil {
		return nil, err
	}
	return New(inner, c), nil
}

func checkKey(ctx context.Context, inner store.Store, c *secret.Cipher) error {
	stored, err := inner.GetSetting(ctx, keyCheckSetting)
	switch {
	case herald.IsNotFound(err):
		// A database written before the check value, or a new one: look
		// for an encrypted value to try the key on.
		if stored, err = probeSealed(ctx, inner); err != nil {
			return err
		}
	case err != nil:
		return fmt.Errorf("read the encryption key check: %w", err)
	}
	if stored != "" {
		if err := tryKey(c, stored); err != nil {
			return err
		}
	}
	if c == nil {
		return nil
	}
	check, err := c.Encrypt(keyCheckText)
	if err != nil {
		return err
	}
	// Another process may record its key at the same moment: the value
	// that stays is the one to agree with.
	if stored, err = inner.SetSettingIfAbsent(ctx, keyCheckSetting, check); err != nil {
		return fmt.Errorf("record the encryption key check: %w", err)
	}
	return tryKey(c, stored)
}

// tryKey decrypts an encrypted value with c and explains a failure.
func tryKey(c *secret.Cipher, encrypted string) error {
	_, err := c.Decrypt(encrypted)
	switch {
	case errors.Is(err, secret.ErrNoKey):
		return errors.New("HERALD_ENCRYPTION_KEY is not set, but this database's endpoint secrets are encrypted: set HERALD_ENCRYPTION_KEY to the key they were encrypted with")
	case err != nil:
		return errors.New("HERALD_ENCRYPTION_KEY cannot decrypt this database's endpoint secrets: it is not the key they were encrypted with")
	}
	return nil
}

// probeSealed returns an encrypted secret of an endpoint of the first
// keyProbeProjects projects, "" when it finds none.
func probeSealed(ctx context.Context, inner store.Store) (string, error) {
	projects, _, err := inner.ListProjects(ctx, store.Page{Limit: keyProbeProjects})
	if err != nil {
		return "", fmt.Errorf("look for encrypted secrets: %w", err)
	}
	for _, p := range projects {
		eps, _, err := inner.ListEndpoints(ctx, p.ID, store.EndpointFilter{}, store.Page{Limit: 1})
		if err != nil {
			return "", fmt.Errorf("look for encrypted secrets: %w", err)
		}
		for _, ep := range eps {
			if strings.HasPrefix(ep.Secret, secret.Prefix) {
				return ep.Secret, nil
			}
		}
	}
	return "", nil
}
