package secrets

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestSealOpen(t *testing.T) {
	t.Parallel()
	key := bytes.Repeat([]byte{7}, 32)
	b, err := New(key)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := b.Seal([]byte(`{"secret_access_key":"abc"}`), "prod")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte("abc")) {
		t.Fatal("plaintext visible in the sealed value")
	}
	got, err := b.Open(sealed, "prod")
	if err != nil || string(got) != `{"secret_access_key":"abc"}` {
		t.Fatalf("%q %v", got, err)
	}
	if _, err := b.Open(sealed, "dev"); !errors.Is(err, ErrOpen) {
		t.Fatalf("other context: %v", err)
	}
	other, _ := New(bytes.Repeat([]byte{8}, 32))
	if _, err := other.Open(sealed, "prod"); !errors.Is(err, ErrOpen) {
		t.Fatalf("other key: %v", err)
	}
	sealed[len(sealed)-1] ^= 1
	if _, err := b.Open(sealed, "prod"); !errors.Is(err, ErrOpen) {
		t.Fatalf("tampered: %v", err)
	}
	if _, err := New([]byte("short")); err == nil {
		t.Fatal("short key accepted")
	}
}

func TestLoadKey(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "secret.key")
	t.Setenv(KeyEnv, "")
	if _, err := LoadKey(file, false); err == nil {
		t.Fatal("missing file accepted without create")
	}
	k1, err := LoadKey(file, true)
	if err != nil || len(k1) != 32 {
		t.Fatalf("%v %v", k1, err)
	}
	if fi, _ := os.Stat(file); fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v", fi.Mode())
	}
	k2, err := LoadKey(file, true)
	if err != nil || !bytes.Equal(k1, k2) {
		t.Fatal("key not reused")
	}
	t.Setenv(KeyEnv, "AAAA")
	if _, err := LoadKey(file, true); err == nil {
		t.Fatal("a short key in the environment accepted")
	}
}
