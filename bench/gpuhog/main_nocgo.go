//go:build !cgo

package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "gpuhog: built without cgo, so it cannot load the NVIDIA driver: build it with CGO_ENABLED=1")
	os.Exit(1)
}
