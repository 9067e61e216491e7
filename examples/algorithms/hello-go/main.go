// hello-go is the smallest Go algorithm: algo.Serve calls apply once per call.
package main

import (
	"fmt"

	"github.com/algos-dev/algos/sdk/go/algo"
)

func apply(input any) (any, error) {
	switch v := input.(type) {
	case string:
		return "Hello " + v, nil
	case map[string]any:
		return map[string]any{"greeting": fmt.Sprintf("Hello %v", v["name"])}, nil
	case []byte:
		return append([]byte("Hello "), v...), nil
	default:
		return nil, &algo.Error{Type: "InputError", Message: "send a string, bytes or {\"name\": …}"}
	}
}

func main() { algo.Serve(apply) }
