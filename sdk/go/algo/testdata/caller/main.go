// Command caller is a test algorithm for package algo: it calls demo/echo through a client made
// once before Serve, and answers what it got back and what its environment held during the
// call.
package main

import (
	"context"
	"os"

	"github.com/algos-dev/algos/sdk/go/algo"
)

func main() {
	client := algo.NewClient()
	algo.Serve(func(input any) (any, error) {
		resp, err := client.Algo("demo/echo").Pipe(context.Background(), input)
		if err != nil {
			return nil, err
		}
		return map[string]any{
			"echoed":     resp.Result,
			"token":      os.Getenv("ALGOS_CALL_TOKEN"),
			"request_id": os.Getenv("ALGOS_REQUEST_ID"),
		}, nil
	})
}
