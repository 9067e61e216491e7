package execrunner

import (
	"errors"
	"strings"
	"testing"

	wt "github.com/algos-dev/algos/sdk/internal/workertest"
)

func TestResult(t *testing.T) {
	t.Parallel()
	tests := []struct {
		mode   string
		stdout string
		want   wt.Want
	}{
		{OutputAuto, `{"a": [1]}` + "\n", wt.Want{ContentType: "json", Result: `{"a":[1]}`}},
		{OutputAuto, "3", wt.Want{ContentType: "json", Result: `3`}},
		{OutputAuto, "three\n", wt.Want{ContentType: "text", Result: `"three\n"`}},
		{OutputAuto, "", wt.Want{ContentType: "text", Result: `""`}},
		{OutputAuto, "\xff", wt.Want{ContentType: "binary", Result: `"/w=="`}},
		{OutputAuto, "\"\xff\"", wt.Want{ContentType: "binary", Result: `"Iv8i"`}},
		{OutputJSON, "[1,\n2]", wt.Want{ContentType: "json", Result: `[1,2]`}},
		{OutputJSON, "", wt.Want{ErrorType: "AlgorithmError", Message: "not valid JSON"}},
		{OutputJSON, "\"\xff\"", wt.Want{ErrorType: "AlgorithmError", Message: "not valid JSON"}},
		{OutputText, "[1]", wt.Want{ContentType: "text", Result: `"[1]"`}},
		{OutputText, "\xff", wt.Want{ErrorType: "AlgorithmError", Message: "not valid UTF-8"}},
		{OutputBinary, "[1]", wt.Want{ContentType: "binary", Result: `"WzFd"`}},
	}
	for _, tt := range tests {
		t.Run(tt.mode+" "+tt.stdout, func(t *testing.T) {
			t.Parallel()
			resp := result(tt.mode, []byte(tt.stdout))
			line, err := resp.Line()
			if err != nil {
				t.Fatalf("Line: %v", err)
			}
			if strings.Count(string(line), "\n") != 1 {
				t.Errorf("response line %q has a raw newline inside", line)
			}
			wt.Check(t, resp, nil, tt.want)
		})
	}
}

func TestTailLines(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		max, n int
		writes []string
		want   string
	}{
		{"empty", 100, 3, nil, ""},
		{"fewer lines", 100, 3, []string{"a\nb\n"}, "a\nb"},
		{"last n lines", 100, 2, []string{"a\nb\n", "c\nd"}, "c\nd"},
		{"partial first line dropped", 6, 5, []string{"first\nsecond\nthird\n"}, "third"},
		{"one long line", 4, 5, []string{"abcdefgh"}, "efgh"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tl := newTail(tt.max)
			for _, w := range tt.writes {
				tl.Write([]byte(w))
			}
			if got := tl.lines(tt.n); got != tt.want {
				t.Errorf("lines(%d) = %q, want %q", tt.n, got, tt.want)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	ok := Config{Argv: []string{"cat"}, Stdin: strings.NewReader(""), Log: &strings.Builder{}}
	tests := []struct {
		name   string
		change func(*Config)
		want   string // substring of the error; empty: valid
	}{
		{"valid", func(*Config) {}, ""},
		{"every output", func(c *Config) { c.Output = OutputBinary }, ""},
		{"no argv", func(c *Config) { c.Argv = nil }, "no program"},
		{"empty program", func(c *Config) { c.Argv = []string{""} }, "no program"},
		{"no stdin", func(c *Config) { c.Stdin = nil }, "no Stdin"},
		{"no log", func(c *Config) { c.Log = nil }, "no Log"},
		{"bad output", func(c *Config) { c.Output = "JSON" }, `unknown output "JSON"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := ok
			tt.change(&cfg)
			err := cfg.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("Validate = %v, want nil", err)
			case tt.want != "" && (!errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("Validate = %v, want ErrInvalidConfig containing %q", err, tt.want)
			}
		})
	}
}
