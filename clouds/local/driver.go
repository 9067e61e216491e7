// Package local is the cloud driver that runs instances as process trees on this machine: the
// default cloud, and the one `algos dev` uses.
//
// An instance is its user data run as a shell script, as cloud-init runs a VM's user-data
// script: in its own directory under Config.Dir (its working directory, its only disk), in its
// own process group, with stdout and stderr appended to console.log there (the serial
// console). On Linux the kernel kills an instance when the driver's process dies, so there
// are no orphans. Groups live in memory: the driver keeps Desired members of each, creating
// and deleting them inside the calls that change membership, and Run replaces members that
// exited on their own, as a cloud group replaces unhealthy VMs.
//
// Disks and images are not provisioned: InstanceSpec.Image and InstanceSpec.Disks are
// ignored. The driver does not implement clouds.LoadBalancers or clouds.Disks.
package local

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"sync"
	"syscall"
	"time"

	"github.com/algos-dev/algos/clouds"
)

// The one zone and the one instance type of the local cloud.
const (
	Zone         = "local"
	InstanceType = "local"
)

var (
	_ clouds.Compute       = (*Driver)(nil)
	_ clouds.Groups        = (*Driver)(nil)
	_ clouds.InstanceTypes = (*Driver)(nil)
)

// Config configures a Driver.
type Config struct {
	// Dir holds the driver's state: a lock file and one directory per instance under
	// Dir/instances. One Driver at a time owns it; New removes what an earlier one left.
	Dir string
	// Logger receives the driver's logs; nil discards them. User data is never logged.
	Logger *slog.Logger
	// Shell runs user data scripts ("/bin/sh" when empty).
	Shell string
	// Env is extra environment ("KEY=value") for every instance. Instances do not inherit
	// the driver's environment, only PATH, HOME, USER, LOGNAME, LANG, LC_ALL, TZ and TMPDIR,
	// then Env, then ALGOS_INSTANCE_ID, ALGOS_INSTANCE_NAME, ALGOS_ZONE and
	// ALGOS_INSTANCE_TYPE, which Env cannot override.
	Env []string
	// StopGrace is how long an instance has between SIGTERM and SIGKILL (5s when zero).
	StopGrace time.Duration
	// ReconcileInterval is how often Run checks group members (1s when zero).
	ReconcileInterval time.Duration
}

func (c Config) withDefaults() Config {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Shell == "" {
		c.Shell = "/bin/sh"
	}
	if c.StopGrace == 0 {
		c.StopGrace = 5 * time.Second
	}
	if c.ReconcileInterval == 0 {
		c.ReconcileInterval = time.Second
	}
	return c
}

// Validate reports what is wrong with c after defaults are applied.
func (c Config) Validate() error {
	var errs []error
	if c.Dir == "" {
		errs = append(errs, errors.New("local: Config.Dir is empty: set a state directory"))
	}
	if c.StopGrace < 0 {
		errs = append(errs, fmt.Errorf("local: Config.StopGrace %v is negative", c.StopGrace))
	}
	if c.ReconcileInterval < 0 {
		errs = append(errs, fmt.Errorf("local: Config.ReconcileInterval %v is negative", c.ReconcileInterval))
	}
	return errors.Join(errs...)
}

// Driver is the local cloud. It implements clouds.Compute, clouds.Groups and
// clouds.InstanceTypes, and is safe for concurrent use. Call Run for group repair and Close
// (or cancel Run's context) to stop every instance it started.
type Driver struct {
	cfg     Config
	log     *slog.Logger
	dir     string   // Dir/instances, absolute
	lock    *os.File // flock on Dir/lock while open
	closing chan struct{}

	closeOnce sync.Once
	closeErr  error

	mu        sync.Mutex // guards the fields below and every instance's and group's guarded fields
	instances map[string]*instance
	groups    map[string]*group
	closed    bool
}

// New takes Config.Dir (ErrDirInUse when another Driver holds it), clears what an earlier
// driver left there, and returns a Driver with no instances.
func New(cfg Config) (*Driver, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	dir, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("local: state directory: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("local: state directory: %w", err)
	}
	lock, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("local: lock state directory: %w", err)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		lock.Close()
		return nil, fmt.Errorf("local: %s: %w", dir, ErrDirInUse)
	}
	// Instances of an earlier driver died with it (Pdeathsig); their directories did not.
	instances := filepath.Join(dir, "instances")
	if err := os.RemoveAll(instances); err != nil {
		lock.Close()
		return nil, fmt.Errorf("local: clear old instances: %w", err)
	}
	if err := os.Mkdir(instances, 0o700); err != nil {
		lock.Close()
		return nil, fmt.Errorf("local: state directory: %w", err)
	}
	return &Driver{
		cfg:       cfg,
		log:       cfg.Logger.With("component", "clouds/local"),
		dir:       instances,
		lock:      lock,
		closing:   make(chan struct{}),
		instances: make(map[string]*instance),
		groups:    make(map[string]*group),
	}, nil
}

// Run replaces group members that exited on their own (and retries launches that failed)
// every Config.ReconcileInterval until ctx is cancelled or Close is called. When ctx is
// cancelled it closes the driver (graceful stops, bounded by Config.StopGrace) and returns
// Close's error; after Close it returns nil. Call it once.
func (d *Driver) Run(ctx context.Context) error {
	t := time.NewTicker(d.cfg.ReconcileInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return d.Close(context.WithoutCancel(ctx))
		case <-d.closing:
			return nil
		case <-t.C:
			d.reconcileAll(ctx)
		}
	}
}

// Close stops every instance the driver started (SIGTERM, SIGKILL after StopGrace, or at once
// when ctx is done), waits for them, removes their directories, forgets every group and
// releases Config.Dir. Later calls return the first call's result; calls to other methods
// return ErrClosed.
func (d *Driver) Close(ctx context.Context) error {
	d.closeOnce.Do(func() {
		d.mu.Lock()
		d.closed = true
		close(d.closing)
		ids := make([]string, 0, len(d.instances))
		for id := range d.instances {
			ids = append(ids, id)
		}
		for _, g := range d.groups {
			g.deleted = true
		}
		clear(d.groups)
		d.mu.Unlock()
		err := d.deleteAll(ctx, ids)
		d.closeErr = errors.Join(err, d.lock.Close())
		d.log.Info("local cloud closed", "instances", len(ids))
	})
	return d.closeErr
}

// InstanceTypes returns the one type, "local": this machine's CPUs and memory, no GPUs, free,
// offered on demand in zone "local". It never blocks.
func (d *Driver) InstanceTypes(ctx context.Context) ([]clouds.InstanceType, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return []clouds.InstanceType{{
		Name:      InstanceType,
		Arch:      runtime.GOARCH,
		VCPU:      runtime.NumCPU(),
		MemoryMiB: memTotalMiB(),
		Offerings: []clouds.Offering{{Zone: Zone, Available: true}},
	}}, nil
}

// checkSpec rejects what the local cloud cannot offer. Image and Disks are ignored.
func checkSpec(spec clouds.InstanceSpec) error {
	if spec.InstanceType != "" && spec.InstanceType != InstanceType {
		return fmt.Errorf("instance type %q: the local cloud has only %q: %w", spec.InstanceType, InstanceType, clouds.ErrInvalid)
	}
	if spec.Zone != "" && spec.Zone != Zone {
		return fmt.Errorf("zone %q: the local cloud has only %q: %w", spec.Zone, Zone, clouds.ErrInvalid)
	}
	if spec.Spot {
		return &clouds.CapacityError{Zone: Zone, InstanceType: InstanceType, Spot: true, Msg: "the local cloud offers no spot capacity"}
	}
	return nil
}

// deleteAll deletes instances in parallel and waits for all of them.
func (d *Driver) deleteAll(ctx context.Context, ids []string) error {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for _, id := range ids {
		wg.Go(func() {
			if err := d.DeleteInstance(ctx, id); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

func newID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return "i-" + hex.EncodeToString(b)
}

func sortInstances(ins []clouds.Instance) {
	sort.Slice(ins, func(i, j int) bool {
		if !ins[i].LaunchedAt.Equal(ins[j].LaunchedAt) {
			return ins[i].LaunchedAt.Before(ins[j].LaunchedAt)
		}
		return ins[i].ID < ins[j].ID
	})
}
