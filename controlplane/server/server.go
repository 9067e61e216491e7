// Package server assembles a whole control plane from its parts — store, blob store, keys,
// registry, fleet, router, invocations, pool reconciler with its clouds, HTTP API — and runs it.
// `algos dev` and `algos server` start one; so do the end-to-end and Terraform acceptance tests.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"gocloud.dev/blob/fileblob"

	"github.com/algos-dev/algos/api"
	"github.com/algos-dev/algos/clouds"
	"github.com/algos-dev/algos/clouds/local"
	"github.com/algos-dev/algos/controlplane/auth"
	"github.com/algos-dev/algos/controlplane/callgraph"
	"github.com/algos-dev/algos/controlplane/catalog"
	"github.com/algos-dev/algos/controlplane/cloudacct"
	"github.com/algos-dev/algos/controlplane/connector"
	"github.com/algos-dev/algos/controlplane/data"
	"github.com/algos-dev/algos/controlplane/data/rootblob"
	"github.com/algos-dev/algos/controlplane/fleet"
	"github.com/algos-dev/algos/controlplane/httpapi"
	"github.com/algos-dev/algos/controlplane/invoke"
	"github.com/algos-dev/algos/controlplane/metering"
	"github.com/algos-dev/algos/controlplane/metrics"
	"github.com/algos-dev/algos/controlplane/pool"
	"github.com/algos-dev/algos/controlplane/registry"
	"github.com/algos-dev/algos/controlplane/router"
	"github.com/algos-dev/algos/controlplane/scale"
	"github.com/algos-dev/algos/controlplane/secrets"
	"github.com/algos-dev/algos/controlplane/store"
	"github.com/algos-dev/algos/controlplane/store/sqlite"
)

// Config configures a control plane.
type Config struct {
	Listen  string // e.g. 127.0.0.1:8080; port 0 picks one
	DataDir string
	Logger  *slog.Logger
	// AgentBinary is the algos binary that local instances run as their agent.
	AgentBinary string
	// BootstrapAccount is created as an administrator when missing; its key is kept in
	// DataDir/<account>.key (mode 0600) and reused across restarts.
	BootstrapAccount string
	// DevPool, when set, is a local node pool of that many nodes that the server ensures.
	DevPool int
	// PoolInterval, BootTimeout, HeartbeatInterval: see the pool and fleet packages.
	PoolInterval      time.Duration
	HeartbeatInterval time.Duration
	// BootTimeout: a VM whose agent has not registered this long after launch is replaced.
	BootTimeout time.Duration
	// ScaleDownAfter: an autoscaled pool's node idle this long is drained and removed.
	ScaleDownAfter time.Duration
	// MaxBodyBytes bounds a call's input.
	MaxBodyBytes int64
	// AdvertiseURL is the URL cloud VMs reach this control plane at (their boot script downloads
	// the agent from it and the agent registers there); default: the listen address.
	AdvertiseURL string
	// CloudFactories are the clouds that need an account (aws, gcp, azure, openstack), by name.
	CloudFactories map[string]cloudacct.Factory
	// SecretKeyFile holds the key that seals cloud credentials when $ALGOS_SECRET_KEY is unset
	// (default DataDir/secret.key, created at first start).
	SecretKeyFile string
	// LocalBoot is how instances of the local cloud boot: "exec" (default: run the agent binary
	// directly) or "cloud-init" (the boot script of cloud VMs: download the agent from this
	// control plane, then start it — the path a VM takes, on this machine).
	LocalBoot string
	// DefaultConnector is the platform-wide connector that serves blob:// ("s3+lake", or
	// "s3+lake://bucket/prefix"); empty: blob:// answers 404 saying how to configure it.
	DefaultConnector string
	// AllowPrivateEndpoints lets every connector reach loopback, private and link-local
	// addresses (an object store on the private network); otherwise only connectors an
	// administrator allowed may.
	AllowPrivateEndpoints bool
	// ScaleInterval is how often the worker autoscaler decides (default 1s).
	ScaleInterval time.Duration
	// CallDepth bounds how deep calls from inside algorithms nest (default 8).
	CallDepth int
	// Sandbox is the worker sandbox of the local cloud's agents: auto, namespaces, basic,
	// none, or "" (off: workers run unconfined, as in most tests).
	Sandbox string
}

// Server is a running control plane.
type Server struct {
	URL     string
	DataDir string
	Key     string // the bootstrap account's key, when one was asked for
	Store   store.Store
	Fleet   *fleet.Fleet
	Pools   *pool.Reconciler
	Keys    *auth.Keys
	Reg     *registry.Registry
	done    chan struct{}
	errMu   sync.Mutex
	runErr  error
}

// Wait blocks until the server has stopped (its context ended) and returns why it stopped.
func (s *Server) Wait() error {
	<-s.done
	s.errMu.Lock()
	defer s.errMu.Unlock()
	return s.runErr
}

// Start builds every part of the control plane, starts serving, and returns once the
// API answers. Cancelling ctx stops it: the HTTP server, the background loops, the local
// cloud's instances (agents and their workers), then the store.
func Start(ctx context.Context, cfg Config) (*Server, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	st, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(cfg.DataDir, "algos.db"), Logger: log})
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	cleanup := []func(){func() { st.Close() }}
	fail := func(err error) (*Server, error) {
		for i := len(cleanup) - 1; i >= 0; i-- {
			cleanup[i]()
		}
		return nil, err
	}
	bucket, err := fileblob.OpenBucket(filepath.Join(cfg.DataDir, "blobs"), &fileblob.Options{CreateDir: true, NoTempDir: false})
	if err != nil {
		return fail(fmt.Errorf("open blob store: %w", err))
	}
	cleanup = append(cleanup, func() { bucket.Close() })
	// The Data API's files: a directory reached only through os.Root, never through a link.
	dataBucket, err := rootblob.OpenBucket(filepath.Join(cfg.DataDir, "datastore"), nil)
	if err != nil {
		return fail(fmt.Errorf("open data store: %w", err))
	}
	cleanup = append(cleanup, func() { dataBucket.Close() })
	keyFile := cfg.SecretKeyFile
	if keyFile == "" {
		keyFile = filepath.Join(cfg.DataDir, "secret.key")
	}
	secretKey, err := secrets.LoadKey(keyFile, true)
	if err != nil {
		return fail(err)
	}
	box, err := secrets.New(secretKey)
	if err != nil {
		return fail(err)
	}
	keys, err := auth.New(auth.Config{Store: st, Logger: log, TokenKey: secrets.Derive(secretKey, "algos call tokens v1")})
	if err != nil {
		return fail(err)
	}
	reg, err := registry.New(registry.Config{Store: st, Bucket: bucket, Logger: log})
	if err != nil {
		return fail(err)
	}
	fl, err := fleet.New(ctx, fleet.Config{Store: st, Logger: log, HeartbeatInterval: cfg.HeartbeatInterval})
	if err != nil {
		return fail(err)
	}
	var pools *pool.Reconciler // the router tells it when calls wait for a node
	rt, err := router.New(router.Config{Fleet: fl, Logger: log, NoNode: func(p string, gpu bool) {
		if pools != nil {
			pools.Demand(p, gpu)
		}
	}})
	if err != nil {
		return fail(err)
	}
	var autoscaling *scale.Controller // set below; read at scrape time
	met := metrics.New(metrics.Sources{
		Autoscaler: func() []metrics.AutoscalerView {
			if autoscaling == nil {
				return nil
			}
			var out []metrics.AutoscalerView
			for _, s := range autoscaling.Statuses() {
				out = append(out, metrics.AutoscalerView{Version: s.Version, Desired: s.Desired, Current: s.Current, InFlight: s.InFlight, Panic: s.Panic, Unplaced: s.Unplaced})
			}
			return out
		},
		Nodes: func() []metrics.NodeView {
			var out []metrics.NodeView
			for _, n := range fl.Nodes() {
				out = append(out, metrics.NodeView{ID: n.ID, Pool: n.Pool, Ready: fl.Ready(n), Workers: n.Workers(), GPUs: n.GPUs()})
			}
			return out
		},
		Pools: func() []metrics.PoolView {
			ps, err := pools.List(context.Background())
			if err != nil {
				return nil
			}
			out := make([]metrics.PoolView, 0, len(ps))
			for _, p := range ps {
				out = append(out, metrics.PoolView{Name: p.Name, Desired: p.Spec.DesiredSize, Ready: p.Size})
			}
			return out
		},
	})
	graph := callgraph.New()
	meter, err := metering.New(ctx, metering.Config{Store: st, Logger: log})
	if err != nil {
		return fail(err)
	}
	inv, err := invoke.New(invoke.Config{Store: st, Registry: reg, Router: rt, Metrics: met, Keys: keys, Graph: graph, MaxDepth: cfg.CallDepth, Logger: log, Meter: meter})
	if err != nil {
		return fail(err)
	}
	dataSvc, err := data.New(data.Config{Store: st, Bucket: dataBucket, Logger: log})
	if err != nil {
		return fail(err)
	}
	cat, err := catalog.New(catalog.Config{Store: st, Stats: catalog.NewMetricsStats(met.Handler(), 0), Logger: log})
	if err != nil {
		return fail(err)
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fail(fmt.Errorf("listen on %s: %w (is another algos running? pick another address with --listen)", cfg.Listen, err))
	}
	cleanup = append(cleanup, func() { ln.Close() })
	url := "http://" + advertised(ln.Addr())

	localCloud, err := local.New(local.Config{Dir: filepath.Join(cfg.DataDir, "local-cloud"), Logger: log.With("component", "cloud", "cloud", "local")})
	if err != nil {
		return fail(fmt.Errorf("local cloud: %w", err))
	}
	cleanup = append(cleanup, func() { _ = localCloud.Close(context.Background()) })
	accounts, err := cloudacct.New(cloudacct.Config{Store: st, Box: box, Factories: cfg.CloudFactories, Logger: log})
	if err != nil {
		return fail(err)
	}
	conns, err := connector.New(connector.Config{Store: st, Box: box, DefaultConnector: cfg.DefaultConnector,
		AllowPrivateEndpoints: cfg.AllowPrivateEndpoints, Logger: log})
	if err != nil {
		return fail(err)
	}
	agentBin := cfg.AgentBinary
	pools, err = pool.New(pool.Config{
		Store: st, Fleet: fl, Logger: log, Interval: cfg.PoolInterval, Accounts: accounts, BootTimeout: cfg.BootTimeout, ScaleDownAfter: cfg.ScaleDownAfter,
		Clouds:   map[string]clouds.Groups{"local": localCloud},
		UserData: userData(cfg.LocalBoot, agentBin, url, cfg.AdvertiseURL, cfg.Sandbox),
	})
	if err != nil {
		return fail(err)
	}
	scaler, err := scale.New(scale.Config{Fleet: fl, Router: rt, Registry: reg, Pools: pools, Callers: graph.Callers, Logger: log, Interval: cfg.ScaleInterval})
	if err != nil {
		return fail(err)
	}
	autoscaling = scaler
	base, cancelBase := context.WithCancel(context.WithoutCancel(ctx))
	h, err := httpapi.New(httpapi.Config{Registry: reg, Keys: keys, Fleet: fl, Invoke: inv, Pools: pools, Router: rt, Accounts: accounts, Metrics: met, Logger: log, Graph: graph, Store: st,
		MaxBodyBytes: cfg.MaxBodyBytes, Base: base, Meter: meter, AgentBinary: cfg.AgentBinary, Data: dataSvc, Connectors: conns,
		Catalog: cat})
	if err != nil {
		cancelBase()
		return fail(err)
	}
	s := &Server{URL: url, DataDir: cfg.DataDir, Store: st, Fleet: fl, Pools: pools, Keys: keys, Reg: reg, done: make(chan struct{})}
	if cfg.BootstrapAccount != "" {
		if s.Key, err = bootstrap(ctx, st, keys, cfg.DataDir, cfg.BootstrapAccount); err != nil {
			cancelBase()
			return fail(err)
		}
	}
	if cfg.DevPool > 0 {
		if _, err := pools.Get(ctx, "default"); errors.Is(err, store.ErrNotFound) {
			_, err = pools.Create(ctx, api.CreatePool{Name: "default", Spec: api.PoolSpec{Cloud: "local", InstanceType: "local",
				MinSize: cfg.DevPool, DesiredSize: cfg.DevPool, MaxSize: max(cfg.DevPool, 4)}})
			if err != nil {
				cancelBase()
				return fail(fmt.Errorf("create the dev node pool: %w", err))
			}
		}
	}
	// ReadTimeout bounds a slow upload (a 10 MiB call body, a source artifact); replies have no
	// write timeout since a call may run for up to 3000 s, bounded by its own deadline.
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 10 * time.Minute, IdleTimeout: 2 * time.Minute}
	if err := inv.Resume(ctx, base); err != nil {
		log.Error("resuming async requests failed", "err", err)
	}
	var wg sync.WaitGroup
	wg.Add(4)
	go func() { defer wg.Done(); _ = localCloud.Run(base) }()
	go func() { defer wg.Done(); _ = pools.Run(base) }()
	go func() { defer wg.Done(); _ = scaler.Run(base) }()
	wg.Go(func() { _ = meter.Run(base) })
	go func() {
		defer wg.Done()
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.errMu.Lock()
			s.runErr = err
			s.errMu.Unlock()
		}
	}()
	go func() {
		<-ctx.Done()
		shCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_ = srv.Shutdown(shCtx)
		cancel()
		cancelBase()
		inv.Wait()
		_ = localCloud.Close(context.Background())
		wg.Wait()
		// The calls have finished: their records are written before the store closes.
		mctx, mcancel := context.WithTimeout(context.Background(), 30*time.Second)
		if err := meter.Close(mctx); err != nil {
			log.Error("writing the last call records failed", "err", err)
		}
		mcancel()
		_ = bucket.Close()
		_ = dataBucket.Close()
		_ = st.Close()
		close(s.done)
	}()
	log.Info("control plane listening", "url", url, "data_dir", cfg.DataDir)
	return s, nil
}

// advertised turns a listener address into one that local agents can dial.
func advertised(a net.Addr) string {
	host, port, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

// userData renders the boot script of a pool's instances: cloud-init for VMs (with the
// advertised URL), the local boot for local instances.
func userData(localBoot, agentBin, serverURL, advertiseURL, sandbox string) pool.UserDataFunc {
	if advertiseURL == "" {
		advertiseURL = serverURL
	}
	local := localUserData(localBoot, agentBin, serverURL, sandbox)
	return func(poolName, cloud, token string) (string, error) {
		if cloud == "local" {
			return local(poolName, cloud, token)
		}
		return pool.CloudInit(pool.CloudInitConfig{Server: advertiseURL, Cloud: cloud})(poolName, cloud, token)
	}
}

// localUserData renders the boot script of a local instance: it starts the agent with the join
// token in its environment, as cloud-init would on a VM.
func localUserData(boot, agentBin, serverURL, sandbox string) pool.UserDataFunc {
	if sandbox == "" {
		sandbox = "off"
	}
	if boot == "cloud-init" {
		return pool.CloudInit(pool.CloudInitConfig{Server: serverURL, Cloud: "local", Listen: "127.0.0.1:0", Home: "./algos-home", Sandbox: sandbox})
	}
	return func(poolName, _, token string) (string, error) {
		if agentBin == "" {
			return "", errors.New("no agent binary configured for the local cloud")
		}
		q := func(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
		return "#!/bin/sh\n" +
			"# algos agent boot script (pool " + poolName + ")\n" +
			"ALGOS_JOIN_TOKEN=" + q(token) + " exec " + q(agentBin) + " agent --server " + q(serverURL) + " --data-dir ./agent --sandbox " + q(sandbox) + "\n", nil
	}
}

// bootstrap ensures the administrator account and its key file, returning the key.
func bootstrap(ctx context.Context, st store.Store, keys *auth.Keys, dataDir, account string) (string, error) {
	if err := registry.ValidName("account", account); err != nil {
		return "", err
	}
	if err := st.CreateAccount(ctx, store.Account{Name: account, Admin: true, CreatedAt: time.Now().UTC()}); err != nil && !errors.Is(err, store.ErrConflict) {
		return "", fmt.Errorf("create account %s: %w", account, err)
	}
	path := filepath.Join(dataDir, account+".key")
	if b, err := os.ReadFile(path); err == nil {
		secret := strings.TrimSpace(string(b))
		if _, err := keys.Authenticate(ctx, "Simple "+secret); err == nil {
			return secret, nil
		}
	}
	k, err := keys.Create(ctx, account, api.CreateKey{Name: "bootstrap", Manage: true, Data: "write"})
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(path, []byte(k.Secret+"\n"), 0o600); err != nil {
		return "", err
	}
	return k.Secret, nil
}
