package sealed_test

import (
	"context"
	"testing"

	"github.com/herald-dev/herald/internal/secret"
	"github.com/herald-dev/herald/internal/store/sealed"
	"github.com/stretchr/testify/require"
)

// Open refuses a key that cannot read the database's secrets, naming
// HERALD_ENCRYPTION_KEY, whether the key was recorded by Open (the check
// value) or the secrets were written before it (New alone: found by
// looking at an endpoint).
func TestOpenRefusesAMissingOrWrongKey(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		for _, recorded := range []bool{true, false} {
			inner, _ := b.open(t)
			st := sealed.New(inner, cipher(t, key))
			if recorded {
				var err error
				st, err = sealed.Open(ctx, inner, cipher(t, key))
				require.NoError(t, err)
			}
			ep := endpoint(project(t, st))
			require.NoError(t, st.CreateEndpoint(ctx, ep))

			_, err := sealed.Open(ctx, inner, nil)
			require.ErrorContains(t, err, "HERALD_ENCRYPTION_KEY is not set", "recorded %v", recorded)
			_, err = sealed.Open(ctx, inner, cipher(t, otherKey))
			require.ErrorContains(t, err, "HERALD_ENCRYPTION_KEY cannot decrypt", "recorded %v", recorded)
			_, err = sealed.Open(ctx, inner, cipher(t, key))
			require.NoError(t, err, "the right key opens (recorded %v)", recorded)
			// Recorded now: a wrong key is refused with no endpoint left.
			require.NoError(t, st.DeleteEndpoint(ctx, ep.ProjectID, ep.ID))
			_, err = sealed.Open(ctx, inner, cipher(t, otherKey))
			require.ErrorContains(t, err, "HERALD_ENCRYPTION_KEY cannot decrypt")
		}
	})
}

// Without encrypted secrets, any key (or none) opens: a database in
// plaintext can start using a key.
func TestOpenAcceptsAPlaintextDatabase(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		inner, _ := b.open(t)
		st, err := sealed.Open(ctx, inner, nil)
		require.NoError(t, err)
		require.NoError(t, st.CreateEndpoint(ctx, endpoint(project(t, st))))
		_, err = sealed.Open(ctx, inner, nil)
		require.NoError(t, err)
		_, err = sealed.Open(ctx, inner, cipher(t, key))
		require.NoError(t, err, "a first key is accepted and recorded")
		_, err = sealed.Open(ctx, inner, (*secret.Cipher)(nil))
		require.ErrorContains(t, err, "HERALD_ENCRYPTION_KEY", "once recorded, the key is needed")
	})
}
