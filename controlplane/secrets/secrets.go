// Package secrets seals the secrets the control plane must keep (cloud credentials) with
// AES-256-GCM under a key that comes from the environment or a key file, never from the store:
// a copy of the database alone reveals nothing.
package secrets

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"strings"
)

// KeyEnv is the environment variable holding the base64 of a 32-byte key.
const KeyEnv = "ALGOS_SECRET_KEY"

// version prefixes every sealed value, so that the scheme can change later.
const version byte = 1

// ErrOpen: a sealed value could not be opened (another key, or tampered with).
var ErrOpen = errors.New("secrets: cannot open sealed value (wrong ALGOS_SECRET_KEY, or the value was altered)")

// Box seals and opens values. It is safe for concurrent use.
type Box struct{ aead cipher.AEAD }

// New returns a Box for a 32-byte key.
func New(key []byte) (*Box, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("secrets: the key must be 32 bytes, got %d", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Box{aead: aead}, nil
}

// Seal encrypts plaintext, bound to context (e.g. the record's name: a sealed value moved to
// another record does not open).
func (b *Box) Seal(plaintext []byte, context string) ([]byte, error) {
	nonce := make([]byte, b.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	out := append([]byte{version}, nonce...)
	return b.aead.Seal(out, nonce, plaintext, []byte(context)), nil
}

// Open decrypts what Seal produced with the same context.
func (b *Box) Open(sealed []byte, context string) ([]byte, error) {
	n := b.aead.NonceSize()
	if len(sealed) < 1+n+b.aead.Overhead() || sealed[0] != version {
		return nil, ErrOpen
	}
	out, err := b.aead.Open(nil, sealed[1:1+n], sealed[1+n:], []byte(context))
	if err != nil {
		return nil, ErrOpen
	}
	return out, nil
}

// LoadKey returns the key from $ALGOS_SECRET_KEY, else from file (base64, one line). With
// create, a missing file is created with a new random key (mode 0600): the zero-setup default
// of `algos dev`; production sets the environment variable from its secret manager.
func LoadKey(file string, create bool) ([]byte, error) {
	if s := strings.TrimSpace(os.Getenv(KeyEnv)); s != "" {
		return decodeKey(s, KeyEnv)
	}
	if file == "" {
		return nil, fmt.Errorf("secrets: set %s to the base64 of 32 random bytes (openssl rand -base64 32)", KeyEnv)
	}
	b, err := os.ReadFile(file)
	if errors.Is(err, os.ErrNotExist) && create {
		key := make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, err
		}
		if err := os.WriteFile(file, []byte(base64.StdEncoding.EncodeToString(key)+"\n"), 0o600); err != nil {
			return nil, fmt.Errorf("secrets: write key file: %w", err)
		}
		return key, nil
	}
	if err != nil {
		return nil, fmt.Errorf("secrets: read key file: %w", err)
	}
	return decodeKey(strings.TrimSpace(string(b)), file)
}

func decodeKey(s, from string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(key) != 32 {
		return nil, fmt.Errorf("secrets: %s must hold the base64 of exactly 32 bytes", from)
	}
	return key, nil
}

// Derive returns a 32-byte key for one purpose, derived from the master key with
// HMAC-SHA256(key, purpose), so that a purpose's key reveals nothing of the master key or of
// other purposes' keys.
func Derive(key []byte, purpose string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(purpose))
	return m.Sum(nil)
}
