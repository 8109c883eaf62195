// Package secret encrypts endpoint secrets and credentials at rest with a
// key derived from HERALD_ENCRYPTION_KEY.
//
// An encrypted value is Prefix + base64(nonce || AES-256-GCM ciphertext).
// The prefix lets encrypted and plaintext values coexist: a database written
// before encryption was turned on still reads, and its values are encrypted
// as they are rewritten.
package secret

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// Prefix marks an encrypted value. Values without it are plaintext written
// before encryption was turned on, and Decrypt passes them through.
const Prefix = "enc:v1:"

// MinKeyLen is the shortest key NewCipher accepts, in bytes. HKDF spreads a
// key's entropy, it does not add any: the key should be random, e.g.
// `openssl rand -base64 32`.
const MinKeyLen = 16

// hkdfInfo binds the derived key to this use and format version, so the
// same configured key can later derive other keys independently.
const hkdfInfo = "herald secret encryption v1"

// Errors of Decrypt.
var (
	ErrDecrypt = errors.New("encrypted value cannot be decrypted: wrong HERALD_ENCRYPTION_KEY or corrupted data")
	ErrNoKey   = errors.New("value is encrypted but no HERALD_ENCRYPTION_KEY is configured")
)

// Cipher encrypts and decrypts values with AES-256-GCM. A nil *Cipher is
// the identity for plaintext (no key configured). Safe for concurrent use.
type Cipher struct {
	aead cipher.AEAD
}

// NewCipher derives a 256-bit key from key (HKDF-SHA256).
func NewCipher(key string) (*Cipher, error) {
	if len(key) < MinKeyLen {
		return nil, fmt.Errorf("HERALD_ENCRYPTION_KEY must be at least %d characters (use a random value, e.g. 32 random bytes in base64)", MinKeyLen)
	}
	k, err := hkdf.Key(sha256.New, []byte(key), nil, hkdfInfo, 32)
	if err != nil {
		return nil, fmt.Errorf("derive encryption key: %w", err)
	}
	block, err := aes.NewCipher(k)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Cipher{aead: aead}, nil
}

// Encrypt returns Prefix + base64(nonce || ciphertext), with a fresh random
// nonce each time. A nil Cipher returns plaintext unchanged.
func (c *Cipher) Encrypt(plaintext string) (string, error) {
	if c == nil {
		return plaintext, nil
	}
	nonce := make([]byte, c.aead.NonceSize(), c.aead.NonceSize()+len(plaintext)+c.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	sealed := c.aead.Seal(nonce, nonce, []byte(plaintext), nil)
	return Prefix + base64.StdEncoding.EncodeToString(sealed), nil
}

// Decrypt reverses Encrypt; a value without Prefix is returned unchanged.
// A nil Cipher refuses encrypted values (ErrNoKey) rather than hand back
// ciphertext as if it were the secret.
func (c *Cipher) Decrypt(s string) (string, error) {
	rest, ok := strings.CutPrefix(s, Prefix)
	if !ok {
		return s, nil
	}
	if c == nil {
		return "", ErrNoKey
	}
	sealed, err := base64.StdEncoding.DecodeString(rest)
	if err != nil || len(sealed) < c.aead.NonceSize()+c.aead.Overhead() {
		return "", ErrDecrypt
	}
	n := c.aead.NonceSize()
	plain, err := c.aead.Open(nil, sealed[:n], sealed[n:], nil)
	if err != nil {
		return "", ErrDecrypt
	}
	return string(plain), nil
}
