package secret_test

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/herald-dev/herald/internal/secret"
	"github.com/stretchr/testify/require"
)

const key = "k7Vb2sR1pQ9xZ3nL8wE4tY6uI0oA5dFg"

func cipher(t *testing.T, k string) *secret.Cipher {
	t.Helper()
	c, err := secret.NewCipher(k)
	require.NoError(t, err)
	return c
}

func TestEncryptDecryptRoundTrip(t *testing.T) {
	t.Parallel()
	c := cipher(t, key)
	for _, p := range []string{"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "", "ünïcödé ✓", strings.Repeat("x", 10000)} {
		enc, err := c.Encrypt(p)
		require.NoError(t, err)
		require.True(t, strings.HasPrefix(enc, secret.Prefix), enc)
		if p != "" {
			require.NotContains(t, enc, p)
		}
		got, err := c.Decrypt(enc)
		require.NoError(t, err)
		require.Equal(t, p, got)
	}
}

func TestEncryptUsesFreshNonces(t *testing.T) {
	t.Parallel()
	c := cipher(t, key)
	a, err := c.Encrypt("same")
	require.NoError(t, err)
	b, err := c.Encrypt("same")
	require.NoError(t, err)
	require.NotEqual(t, a, b)
}

func TestSameKeyDecryptsAcrossCiphers(t *testing.T) {
	t.Parallel()
	// A restarted server derives the same key from the same configuration.
	enc, err := cipher(t, key).Encrypt("s3cret")
	require.NoError(t, err)
	got, err := cipher(t, key).Decrypt(enc)
	require.NoError(t, err)
	require.Equal(t, "s3cret", got)
}

func TestDecryptDetectsTampering(t *testing.T) {
	t.Parallel()
	c := cipher(t, key)
	enc, err := c.Encrypt("whsec_abc")
	require.NoError(t, err)
	raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(enc, secret.Prefix))
	require.NoError(t, err)
	for i := range raw {
		flipped := append([]byte(nil), raw...)
		flipped[i] ^= 0x01
		_, err := c.Decrypt(secret.Prefix + base64.StdEncoding.EncodeToString(flipped))
		require.ErrorIs(t, err, secret.ErrDecrypt, "byte %d", i)
	}
	for _, bad := range []string{secret.Prefix, secret.Prefix + "!!!", secret.Prefix + "AAAA", enc[:len(enc)-4]} {
		_, err := c.Decrypt(bad)
		require.ErrorIs(t, err, secret.ErrDecrypt, bad)
	}
}

func TestDecryptRefusesWrongKey(t *testing.T) {
	t.Parallel()
	enc, err := cipher(t, key).Encrypt("whsec_abc")
	require.NoError(t, err)
	_, err = cipher(t, key+"x").Decrypt(enc)
	require.ErrorIs(t, err, secret.ErrDecrypt)
	require.Contains(t, err.Error(), "HERALD_ENCRYPTION_KEY")
}

func TestDecryptPassesPlaintextThrough(t *testing.T) {
	t.Parallel()
	// Values written before encryption was turned on.
	c := cipher(t, key)
	for _, p := range []string{"whsec_plain", "", "enc:v2:future", "ENC:V1:not-ours"} {
		got, err := c.Decrypt(p)
		require.NoError(t, err)
		require.Equal(t, p, got)
	}
}

func TestNilCipherIsIdentityForPlaintext(t *testing.T) {
	t.Parallel()
	var c *secret.Cipher
	enc, err := c.Encrypt("whsec_abc")
	require.NoError(t, err)
	require.Equal(t, "whsec_abc", enc)
	got, err := c.Decrypt("whsec_abc")
	require.NoError(t, err)
	require.Equal(t, "whsec_abc", got)

	// But it will not hand back ciphertext as though it were the secret.
	sealed, err := cipher(t, key).Encrypt("whsec_abc")
	require.NoError(t, err)
	_, err = c.Decrypt(sealed)
	require.ErrorIs(t, err, secret.ErrNoKey)
}

func TestNewCipherRefusesShortKeys(t *testing.T) {
	t.Parallel()
	for _, k := range []string{"", "short", strings.Repeat("a", secret.MinKeyLen-1)} {
		_, err := secret.NewCipher(k)
		require.ErrorContains(t, err, "HERALD_ENCRYPTION_KEY must be at least 16 characters")
	}
}
