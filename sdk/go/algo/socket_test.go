package algo

import (
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestClientThroughAgentSocket: inside a call, a client without a key reaches its agent through
// ALGOS_API_SOCKET (a sandboxed worker has no network), with the call's token; a client given
// another address never uses the socket.
func TestClientThroughAgentSocket(t *testing.T) {
	t.Parallel()
	dir, err := os.MkdirTemp("", "sock") // short: a socket path is at most 107 bytes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "agent.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	auth := make(chan string, 1)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth <- r.Header.Get("Authorization")
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"result":"via socket","metadata":{"content_type":"text","duration":0.001}}`))
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	// ALGORITHMIA_API points at a port nothing listens on: only the socket can answer.
	env := map[string]string{AddressEnv: "http://127.0.0.1:1", SocketEnv: sock}
	c := testClient(env, inCall("act_token", "req-1"))
	res, err := c.Algo("demo/hello").Pipe(context.Background(), "x")
	if err != nil {
		t.Fatal(err)
	}
	if s, _ := res.Result.(string); s != "via socket" {
		t.Fatalf("result %v", res.Result)
	}
	if got := <-auth; got != "Simple act_token" {
		t.Fatalf("Authorization %q; want the call's token", got)
	}

	other := testClient(env, inCall("act_token", "req-1"), WithAddress("http://127.0.0.1:2"), WithKey("simKey"))
	if _, err := other.Algo("demo/hello").Pipe(context.Background(), "x"); err == nil || !strings.Contains(err.Error(), "127.0.0.1:2") {
		t.Fatalf("a client with its own address: %v; want it to dial that address, not the socket", err)
	}
}
