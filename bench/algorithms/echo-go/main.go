// A trivial Go algorithm for the benchmark: it returns its input.
package main

import "github.com/algos-dev/algos/sdk/go/algo"

func main() { algo.Serve(func(input any) (any, error) { return input, nil }) }
