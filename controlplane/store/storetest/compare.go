package storetest

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

// t0 is the suite's reference time: nanoseconds set, so that a store that drops precision
// beyond the contract's microsecond shows it.
var t0 = time.Date(2025, 6, 1, 12, 0, 0, 123456789, time.UTC)

// at is t0 plus i seconds.
func at(i int) time.Time { return t0.Add(time.Duration(i) * time.Second) }

// ptr returns a pointer to a copy of v.
func ptr[T any](v T) *T { return &v }

// hash is the SHA-256 of s, a stand-in for a secret's hash.
func hash(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

// must fails the test now on a non-nil error.
func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// wantErr fails the test unless errors.Is(err, want).
func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: got error %v, want %v", what, err, want)
	}
}

// equal reports where got differs from want, comparing by the suite's contract: times in UTC to
// within a microsecond, []byte by content (nil equals empty), other slices and pointers also by
// nil-ness.
func equal[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	if d := diff(reflect.ValueOf(got), reflect.ValueOf(want), ""); len(d) > 0 {
		t.Errorf("%s:\n\t%s", what, strings.Join(d, "\n\t"))
	}
}

var (
	timeType  = reflect.TypeFor[time.Time]()
	bytesType = reflect.TypeFor[[]byte]()
)

func diff(got, want reflect.Value, path string) []string {
	if !want.IsValid() || !got.IsValid() {
		if got.IsValid() != want.IsValid() {
			return []string{fmt.Sprintf("%s: got %v, want %v", path, got, want)}
		}
		return nil
	}
	switch want.Type() {
	case timeType:
		g, w := got.Interface().(time.Time), want.Interface().(time.Time)
		var out []string
		if g.Location() != time.UTC {
			out = append(out, fmt.Sprintf("%s: got location %v, want UTC", path, g.Location()))
		}
		if d := g.Sub(w); d <= -time.Microsecond || d >= time.Microsecond || g.IsZero() != w.IsZero() {
			out = append(out, fmt.Sprintf("%s: got %v, want %v", path, g, w))
		}
		return out
	case bytesType:
		if !bytes.Equal(got.Bytes(), want.Bytes()) {
			return []string{fmt.Sprintf("%s: got %q, want %q", path, got.Bytes(), want.Bytes())}
		}
		return nil
	}
	switch want.Kind() {
	case reflect.Pointer:
		if got.IsNil() || want.IsNil() {
			if got.IsNil() != want.IsNil() {
				return []string{fmt.Sprintf("%s: got %v, want %v", path, fmtPtr(got), fmtPtr(want))}
			}
			return nil
		}
		return diff(got.Elem(), want.Elem(), path)
	case reflect.Struct:
		var out []string
		for i := range want.NumField() {
			out = append(out, diff(got.Field(i), want.Field(i), path+"."+want.Type().Field(i).Name)...)
		}
		return out
	case reflect.Slice:
		if got.IsNil() != want.IsNil() || got.Len() != want.Len() {
			return []string{fmt.Sprintf("%s: got %s, want %s", path, fmtSlice(got), fmtSlice(want))}
		}
		var out []string
		for i := range want.Len() {
			out = append(out, diff(got.Index(i), want.Index(i), fmt.Sprintf("%s[%d]", path, i))...)
		}
		return out
	}
	if !reflect.DeepEqual(got.Interface(), want.Interface()) {
		return []string{fmt.Sprintf("%s: got %v, want %v", path, got, want)}
	}
	return nil
}

func fmtPtr(v reflect.Value) string {
	if v.IsNil() {
		return "nil"
	}
	return fmt.Sprint(v.Elem())
}

func fmtSlice(v reflect.Value) string {
	if v.IsNil() {
		return "nil"
	}
	return fmt.Sprintf("%d elements %v", v.Len(), v)
}
