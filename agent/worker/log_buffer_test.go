package worker

import (
	"strings"
	"testing"
)

func TestLogRing(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		size   int
		writes []string
		want   string
	}{
		{name: "fits", size: 16, writes: []string{"a\n", "b\n"}, want: "a\nb\n"},
		{name: "wraps to a line start", size: 8, writes: []string{"111\n", "222\n", "333\n"}, want: "333\n"},
		{name: "many small writes", size: 10, writes: strings.Split(strings.Repeat("ab\n", 50), ""), want: "ab\nab\nab\n"},
		{name: "one write larger than the ring", size: 6, writes: []string{"xxxxxxxx\nyy\nz\n"}, want: "yy\nz\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := newLogRing(tc.size)
			for _, w := range tc.writes {
				r.Write([]byte(w))
			}
			if got := string(r.Bytes()); got != tc.want {
				t.Errorf("Bytes() = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestCaptureCap(t *testing.T) {
	t.Parallel()
	c := &capture{max: 5}
	c.write([]byte("abc\n"))
	c.write([]byte("defg\n"))
	got, truncated := c.result()
	if !truncated || !strings.HasPrefix(string(got), "abc\nd\n[algos: call log truncated at 5 bytes, 4 bytes dropped]") {
		t.Errorf("result() = %q, %v", got, truncated)
	}
}
