// Command echo is a test algorithm for package algo: it echoes its input, and a few text inputs
// make it print, fail or panic. ECHO_FAIL_LOAD makes its load function fail.
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/algos-dev/algos/sdk/go/algo"
)

func main() {
	var greeting string
	load := func() error {
		fmt.Println("loading")
		if os.Getenv("ECHO_FAIL_LOAD") != "" {
			return errors.New("model file missing")
		}
		greeting = "hello"
		return nil
	}
	algo.ServeWithLoad(load, func(input any) (any, error) {
		switch input {
		case "greeting":
			return greeting, nil
		case "print":
			fmt.Println("to stdout")
			fmt.Fprintln(os.Stderr, "to stderr")
			return "printed", nil
		case "fail":
			return nil, &algo.Error{Type: "InputError", Message: "the input is wrong"}
		case "panic":
			var m map[string]int
			m["x"] = 1
		}
		return input, nil
	})
}
