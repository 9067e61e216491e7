package cloudacct_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"sync"
	"testing"

	"github.com/algos-dev/algos/api"
	"github.com/algos-dev/algos/clouds"
	"github.com/algos-dev/algos/clouds/local"
	"github.com/algos-dev/algos/controlplane/cloudacct"
	"github.com/algos-dev/algos/controlplane/secrets"
	"github.com/algos-dev/algos/controlplane/store"
	"github.com/algos-dev/algos/controlplane/store/sqlite"
)

// factory builds real local-cloud drivers and records the credentials it was given.
type factory struct {
	t     *testing.T
	mu    sync.Mutex
	creds []string
}

func (f *factory) build(ctx context.Context, settings, creds json.RawMessage) (clouds.Groups, error) {
	var s struct {
		Region string `json:"region"`
	}
	if err := json.Unmarshal(settings, &s); err != nil || s.Region == "" {
		return nil, errors.New("settings need a region")
	}
	f.mu.Lock()
	f.creds = append(f.creds, string(creds))
	f.mu.Unlock()
	d, err := local.New(local.Config{Dir: f.t.TempDir()})
	if err != nil {
		return nil, err
	}
	f.t.Cleanup(func() { _ = d.Close(context.Background()) })
	return d, nil
}

func TestAccounts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(t.TempDir(), "db")})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	box, _ := secrets.New(bytes.Repeat([]byte{3}, 32))
	f := &factory{t: t}
	svc, err := cloudacct.New(cloudacct.Config{Store: st, Box: box, Factories: map[string]cloudacct.Factory{"aws": f.build}})
	if err != nil {
		t.Fatal(err)
	}
	in := api.CreateCloudAccount{Name: "prod", Cloud: "aws", Settings: json.RawMessage(`{"region":"us-east-1"}`),
		Credentials: json.RawMessage(`{"access_key_id":"AKIA","secret_access_key":"very-secret"}`)}
	out, err := svc.Create(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := json.Marshal(out); bytes.Contains(b, []byte("very-secret")) {
		t.Fatalf("credentials returned: %s", b)
	}
	sa, err := st.GetCloudAccount(ctx, "prod")
	if err != nil || bytes.Contains(sa.Credentials, []byte("very-secret")) || len(sa.Credentials) == 0 {
		t.Fatalf("credentials stored in clear or missing: %v", err)
	}
	for _, bad := range []api.CreateCloudAccount{
		{Name: "x", Cloud: "mars"},
		{Name: "bad name!", Cloud: "aws", Settings: json.RawMessage(`{"region":"r"}`)},
		{Name: "noregion", Cloud: "aws"},
		{Name: "notjson", Cloud: "aws", Settings: json.RawMessage(`{`)},
	} {
		if _, err := svc.Create(ctx, bad); !errors.Is(err, cloudacct.ErrInvalid) {
			t.Errorf("%+v: %v, want ErrInvalid", bad, err)
		}
	}
	if _, err := svc.Create(ctx, in); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate: %v", err)
	}
	// A new service (a restart) opens the sealed credentials to build the driver.
	svc2, _ := cloudacct.New(cloudacct.Config{Store: st, Box: box, Factories: map[string]cloudacct.Factory{"aws": f.build}})
	if _, cloud, err := svc2.Groups(ctx, "prod"); err != nil || cloud != "aws" {
		t.Fatalf("groups after restart: %v %v", cloud, err)
	}
	if got := f.creds[len(f.creds)-1]; got != string(in.Credentials) {
		t.Fatalf("factory got credentials %q", got)
	}
	// Another key cannot open them.
	other, _ := secrets.New(bytes.Repeat([]byte{4}, 32))
	svc3, _ := cloudacct.New(cloudacct.Config{Store: st, Box: other, Factories: map[string]cloudacct.Factory{"aws": f.build}})
	if _, _, err := svc3.Groups(ctx, "prod"); !errors.Is(err, secrets.ErrOpen) {
		t.Fatalf("wrong key: %v", err)
	}
	// Update keeps the credentials when none are given.
	if _, err := svc.Update(ctx, "prod", api.CreateCloudAccount{Settings: json.RawMessage(`{"region":"eu-west-1"}`)}); err != nil {
		t.Fatal(err)
	}
	if got := f.creds[len(f.creds)-1]; got != string(in.Credentials) {
		t.Fatalf("credentials after update: %q", got)
	}
	// An account in use by a pool cannot go.
	spec, _ := json.Marshal(api.PoolSpec{Cloud: "aws", Account: "prod", MaxSize: 1})
	if err := st.CreatePool(ctx, store.Pool{Name: "gpus", Cloud: "aws", Spec: spec}); err != nil {
		t.Fatal(err)
	}
	if err := svc.Delete(ctx, "prod"); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("delete in use: %v", err)
	}
	_ = st.DeletePool(ctx, "gpus")
	if err := svc.Delete(ctx, "prod"); err != nil {
		t.Fatal(err)
	}
	if err := svc.Delete(ctx, "prod"); err != nil {
		t.Fatalf("second delete: %v", err)
	}
}
