//go:build linux

package main

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/algos-dev/algos/api"
	"github.com/algos-dev/algos/clouds"
	"github.com/algos-dev/algos/clouds/aws"
	"github.com/algos-dev/algos/clouds/aws/awsfake"
	"github.com/algos-dev/algos/clouds/azure"
	"github.com/algos-dev/algos/clouds/azure/azurefake"
	"github.com/algos-dev/algos/clouds/gcp"
	"github.com/algos-dev/algos/clouds/gcp/gcpfake"
	"github.com/algos-dev/algos/clouds/openstack"
	"github.com/algos-dev/algos/clouds/openstack/osfake"
	"github.com/algos-dev/algos/controlplane/server"
)

// TestCloudPools runs node pools on the faked clouds through their real SDKs: a cloud account
// with sealed credentials, a pool whose first zone is stocked out (its member lands in the
// next zone), the member's user data run on this machine as cloud-init would run it on the VM
// (it downloads the agent from the control plane and registers under the VM's instance ID), a
// call served by that node, and a delete that leaves nothing behind.
func TestCloudPools(t *testing.T) {
	t.Parallel()
	afake := awsfake.New(awsfake.Options{})
	defer afake.Close()
	gfake := gcpfake.New(gcpfake.Options{})
	defer gfake.Close()
	ofake := osfake.New(osfake.Options{})
	defer ofake.Close()
	zfake := azurefake.New(azurefake.Options{})
	azureConfig := func(c azure.Config) azure.Config {
		// The Azure SDK's fakes are transports, not servers: the account's driver talks to the
		// fake through them (settings and credentials still go through the account).
		c.Credential, c.ClientOptions, c.PollInterval = zfake.Credential(), zfake.ClientOptions(), 10*time.Millisecond
		return c
	}

	ctx, cancel := context.WithCancel(context.Background())
	log := testLogger(t)
	factories := cloudFactories(log)
	factories["azure"] = func(ctx context.Context, settings, creds json.RawMessage) (clouds.Groups, error) {
		var st struct {
			SubscriptionID string   `json:"subscription_id"`
			ResourceGroup  string   `json:"resource_group"`
			Location       string   `json:"location"`
			Zones          []string `json:"zones"`
			SubnetID       string   `json:"subnet_id"`
			SSHPublicKey   string   `json:"ssh_public_key"`
		}
		if err := strict(settings, &st, "settings"); err != nil {
			return nil, err
		}
		return azure.New(ctx, azureConfig(azure.Config{SubscriptionID: st.SubscriptionID, ResourceGroup: st.ResourceGroup,
			Location: st.Location, Zones: st.Zones, SubnetID: st.SubnetID, SSHPublicKey: st.SSHPublicKey}))
	}
	s, err := server.Start(ctx, server.Config{
		Listen: "127.0.0.1:0", DataDir: t.TempDir(), Logger: log, AgentBinary: algosBin,
		BootstrapAccount: "demo", PoolInterval: 200 * time.Millisecond, HeartbeatInterval: 300 * time.Millisecond,
		CloudFactories: factories,
	})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	e := &env{t: t, srv: s, client: api.NewClient(s.URL, s.Key), cancel: cancel}
	t.Cleanup(e.stop)
	c := e.client
	bg := context.Background()

	awsSettings := map[string]any{"region": "us-east-1", "subnets": afake.Subnets(), "security_groups": []string{afake.SecurityGroup()},
		"vpc": afake.VPC(), "endpoint": afake.URL}
	awsCreds := map[string]string{"access_key_id": awsfake.AccessKeyID, "secret_access_key": awsfake.SecretAccessKey}
	gopts := gfake.Options()
	gcpSettings := map[string]any{"project": gopts.Project, "region": gopts.Region, "zones": gopts.Zones, "endpoint": gfake.URL(), "without_authentication": true}
	osSettings := map[string]any{"auth_url": ofake.AuthURL(), "region": osfake.Region, "project_name": osfake.ProjectName,
		"domain_name": osfake.DomainName, "network": ofake.NetworkID(), "subnet": ofake.SubnetID(), "image": "ubuntu-24.04"}
	osCreds := map[string]string{"username": osfake.Username, "password": osfake.Password}
	const sshKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBnotarealkeyjustfortestsxxxxxxxxxxxxxxxx algos@test"
	azSettings := map[string]any{"subscription_id": zfake.SubscriptionID(), "resource_group": zfake.ResourceGroup(), "location": zfake.Location(),
		"zones": zfake.Zones(), "subnet_id": zfake.SubnetID(), "ssh_public_key": sshKey}
	for name, acct := range map[string][2]any{"aws-test": {awsSettings, awsCreds}, "gcp-test": {gcpSettings, map[string]string{}},
		"openstack-test": {osSettings, osCreds}, "azure-test": {azSettings, map[string]string{}}} {
		settings, _ := json.Marshal(acct[0])
		creds, _ := json.Marshal(acct[1])
		cloud := strings.TrimSuffix(name, "-test")
		a, err := c.CreateCloudAccount(bg, api.CreateCloudAccount{Name: name, Cloud: cloud, Settings: settings, Credentials: creds})
		if err != nil {
			t.Fatalf("create cloud account %s: %v", name, err)
		}
		if b, _ := json.Marshal(a); strings.Contains(string(b), awsfake.SecretAccessKey) {
			t.Fatalf("the API returned credentials: %s", b)
		}
	}
	// A bad secret is refused at create, with the cloud's own words.
	if _, err := c.CreateCloudAccount(bg, api.CreateCloudAccount{Name: "typo", Cloud: "aws", Settings: json.RawMessage(`{"regoin":"x"}`)}); err == nil || !strings.Contains(err.Error(), "400") {
		t.Fatalf("account with an unknown setting: %v", err)
	}
	if its, err := c.InstanceTypes(bg, api.InstanceTypeFilter{Cloud: "aws", GPUModel: "H100"}); err != nil || len(its) == 0 || its[0].GPUs[0].Count != 8 {
		t.Fatalf("aws H100 instance types: %+v %v", its, err)
	}
	e.publishDir(c, "demo", "hello-python", "../../examples/algorithms/hello-python", api.PublishOptions{})
	// What the cloud refuses outright is a 400 and no pool: here, an AWS pool without an image.
	if _, err := c.CreatePool(bg, api.CreatePool{Name: "noimage", Spec: api.PoolSpec{Cloud: "aws", Account: "aws-test", InstanceType: "m7i.large", MaxSize: 1}}); err == nil || !strings.Contains(err.Error(), "400") || !strings.Contains(err.Error(), "image") {
		t.Fatalf("pool without an image: %v", err)
	}
	if _, err := c.GetPool(bg, "noimage"); err == nil {
		t.Fatal("a refused pool was kept")
	}

	cases := []struct {
		cloud, account, itype, image string
		zones                        []string
		stockOut                     func()
		driver                       func() clouds.Groups
		userData                     func(id string) string
	}{
		{
			cloud: "aws", account: "aws-test", itype: "g5.xlarge", image: "ami-0abcdef1234567890", zones: afake.Zones()[:2],
			stockOut: func() { afake.StockOut(afake.Zones()[0], "g5.xlarge") },
			driver: func() clouds.Groups {
				d, err := aws.New(bg, aws.Config{Region: "us-east-1", Subnets: afake.Subnets(), SecurityGroups: []string{afake.SecurityGroup()},
					VPC: afake.VPC(), Endpoint: afake.URL, AccessKeyID: awsfake.AccessKeyID, SecretAccessKey: awsfake.SecretAccessKey})
				if err != nil {
					t.Fatal(err)
				}
				return d
			},
			userData: func(id string) string { ud, _ := afake.UserData(id); return ud },
		},
		{
			cloud: "gcp", account: "gcp-test", itype: "g2-standard-4", zones: gopts.Zones[:2],
			stockOut: func() { gfake.StockOut(gopts.Zones[0], "g2-standard-4") },
			driver: func() clouds.Groups {
				d, err := gcp.New(bg, gcp.Config{Project: gopts.Project, Region: gopts.Region, Zones: gopts.Zones, Endpoint: gfake.URL(), WithoutAuthentication: true})
				if err != nil {
					t.Fatal(err)
				}
				return d
			},
			userData: func(id string) string {
				parts := strings.Split(id, "/")
				in, ok := gfake.Instance(parts[0], parts[1])
				if !ok {
					return ""
				}
				for _, it := range in.GetMetadata().GetItems() {
					if it.GetKey() == gcp.MetadataUserData {
						return it.GetValue()
					}
				}
				return ""
			},
		},
	}
	cases = append(cases, struct {
		cloud, account, itype, image string
		zones                        []string
		stockOut                     func()
		driver                       func() clouds.Groups
		userData                     func(id string) string
	}{
		// Nova picks one zone per server; with two allowed zones the scheduler avoids the
		// stocked-out one.
		cloud: "openstack", account: "openstack-test", itype: "g1.a100x2", zones: ofake.Zones()[:2],
		stockOut: func() { ofake.StockOut(ofake.Zones()[0], "g1.a100x2") },
		driver: func() clouds.Groups {
			d, err := openstack.New(bg, openstack.Config{AuthURL: ofake.AuthURL(), Region: osfake.Region, ProjectName: osfake.ProjectName,
				DomainName: osfake.DomainName, Username: osfake.Username, Password: osfake.Password, Network: ofake.NetworkID(),
				Subnet: ofake.SubnetID(), Image: "ubuntu-24.04", PollInterval: 10 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			return d
		},
		userData: func(id string) string { ud, _ := ofake.UserData(id); return ud },
	})
	cases = append(cases, struct {
		cloud, account, itype, image string
		zones                        []string
		stockOut                     func()
		driver                       func() clouds.Groups
		userData                     func(id string) string
	}{
		cloud: "azure", account: "azure-test", itype: "Standard_NC24ads_A100_v4", zones: zfake.Zones()[:2],
		stockOut: func() { zfake.StockOut(zfake.Zones()[0], "Standard_NC24ads_A100_v4") },
		driver: func() clouds.Groups {
			d, err := azure.New(bg, azureConfig(azure.Config{SubscriptionID: zfake.SubscriptionID(), ResourceGroup: zfake.ResourceGroup(),
				Location: zfake.Location(), Zones: zfake.Zones(), SubnetID: zfake.SubnetID(), SSHPublicKey: sshKey}))
			if err != nil {
				t.Fatal(err)
			}
			return d
		},
		userData: func(id string) string { ud, _ := zfake.CustomData(id); return ud },
	})
	for _, tc := range cases { // one after the other: each VM's agent listens on port 7070
		t.Run(tc.cloud, func(t *testing.T) {
			pool := "gpu-" + tc.cloud
			tc.stockOut()
			if _, err := c.CreatePool(bg, api.CreatePool{Name: pool, Spec: api.PoolSpec{Cloud: tc.cloud, Account: tc.account,
				InstanceType: tc.itype, Image: tc.image, Zones: tc.zones, MinSize: 0, DesiredSize: 1, MaxSize: 2}}); err != nil {
				t.Fatal(err)
			}
			d := tc.driver()
			var m clouds.Instance
			waitFor(t, 30*time.Second, "the group's member", func() bool {
				ms, err := d.ListMembers(bg, "algos-"+pool)
				if err == nil && len(ms) == 1 && ms[0].State.Active() && ms[0].Zone != "" {
					m = ms[0]
					return true
				}
				return false
			})
			if m.Zone != tc.zones[1] {
				t.Fatalf("member in zone %s: the stocked-out zone %s should have been skipped for %s", m.Zone, tc.zones[0], tc.zones[1])
			}
			ud := tc.userData(m.ID)
			for _, want := range []string{"#!/bin/sh", "/v1/agent/download", "--cloud " + tc.cloud, "ALGOS_JOIN_TOKEN=join_"} {
				if !strings.Contains(ud, want) {
					t.Fatalf("user data lacks %q:\n%s", want, ud)
				}
			}
			// Boot the "VM": run its user data here, as cloud-init would (in a private home).
			home := t.TempDir()
			ud = strings.Replace(ud, "ALGOS_HOME='/var/lib/algos-agent'", "ALGOS_HOME='"+home+"'", 1)
			vm := exec.Command("/bin/sh", "-c", ud)
			vm.Env = append(os.Environ(), "ALGOS_INSTANCE_ID="+m.ID)
			vm.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
			out, _ := os.Create(filepath.Join(home, "console.log"))
			vm.Stdout, vm.Stderr = out, out
			if err := vm.Start(); err != nil {
				t.Fatal(err)
			}
			stopVM := func() { _ = syscall.Kill(-vm.Process.Pid, syscall.SIGTERM); _ = vm.Wait() }
			t.Cleanup(stopVM)
			waitFor(t, 60*time.Second, "the VM's agent to register", func() bool {
				p, err := c.GetPool(bg, pool)
				return err == nil && p.Size == 1
			})
			if ns, _ := c.ListNodes(bg); !hasNode(ns, pool, m.ID) {
				b, _ := os.ReadFile(filepath.Join(home, "console.log"))
				t.Fatalf("no ready node of pool %s with instance %s: %+v\nconsole:\n%s", pool, m.ID, ns, b)
			}
			if _, err := c.UpdateAlgorithm(bg, "demo", "hello-python", api.CreateAlgorithm{Settings: api.Manifest{NodePool: pool}}); err != nil {
				t.Fatal(err)
			}
			e.call("demo/hello-python", `"`+tc.cloud+`"`).expect(t, http.StatusOK, `"Hello `+tc.cloud+`"`)
			stopVM()
			if err := c.DeletePool(bg, pool); err != nil {
				t.Fatal(err)
			}
			waitFor(t, 30*time.Second, "the group to go", func() bool {
				_, err := d.GetGroup(bg, "algos-"+pool)
				return errors.Is(err, clouds.ErrNotFound)
			})
			waitFor(t, 30*time.Second, "the members to terminate", func() bool {
				ms, err := d.ListMembers(bg, "algos-"+pool)
				if err != nil {
					return true // the group is gone
				}
				for _, m := range ms {
					if m.State.Active() {
						return false
					}
				}
				return true
			})
		})
	}
	if its, err := c.InstanceTypes(bg, api.InstanceTypeFilter{Cloud: "openstack", GPUModel: "h100", MinGPUs: 8}); err != nil || len(its) != 1 {
		t.Fatalf("openstack flavors with 8 H100: %+v %v", its, err)
	}
	if err := c.DeleteCloudAccount(bg, "aws-test"); err != nil {
		t.Fatalf("delete an unused account: %v", err)
	}
}

func hasNode(ns []api.Node, pool, instance string) bool {
	for _, n := range ns {
		if n.Pool == pool && n.InstanceID == instance && n.Ready {
			return true
		}
	}
	return false
}

// TestBootTimeoutReplaces: a VM whose agent never registers (here: its user data never runs) is
// replaced after the boot timeout, and the pool's events say so.
func TestBootTimeoutReplaces(t *testing.T) {
	t.Parallel()
	afake := awsfake.New(awsfake.Options{})
	defer afake.Close()
	ctx, cancel := context.WithCancel(context.Background())
	log := testLogger(t)
	s, err := server.Start(ctx, server.Config{
		Listen: "127.0.0.1:0", DataDir: t.TempDir(), Logger: log, AgentBinary: algosBin, BootstrapAccount: "demo",
		PoolInterval: 100 * time.Millisecond, HeartbeatInterval: 300 * time.Millisecond, BootTimeout: time.Second,
		CloudFactories: cloudFactories(log),
	})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	e := &env{t: t, srv: s, client: api.NewClient(s.URL, s.Key), cancel: cancel}
	t.Cleanup(e.stop)
	bg := context.Background()
	settings, _ := json.Marshal(map[string]any{"region": "us-east-1", "subnets": afake.Subnets(), "endpoint": afake.URL, "image": "ami-0abcdef1234567890"})
	creds, _ := json.Marshal(map[string]string{"access_key_id": awsfake.AccessKeyID, "secret_access_key": awsfake.SecretAccessKey})
	if _, err := e.client.CreateCloudAccount(bg, api.CreateCloudAccount{Name: "aws", Cloud: "aws", Settings: settings, Credentials: creds}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.client.CreatePool(bg, api.CreatePool{Name: "mute", Spec: api.PoolSpec{Cloud: "aws", Account: "aws", InstanceType: "m7i.large", DesiredSize: 1, MaxSize: 1}}); err != nil {
		t.Fatal(err)
	}
	d, err := aws.New(bg, aws.Config{Region: "us-east-1", Subnets: afake.Subnets(), Endpoint: afake.URL, AccessKeyID: awsfake.AccessKeyID, SecretAccessKey: awsfake.SecretAccessKey})
	if err != nil {
		t.Fatal(err)
	}
	active := func() []string {
		ms, _ := d.ListMembers(bg, "algos-mute")
		var ids []string
		for _, m := range ms {
			if m.State.Active() {
				ids = append(ids, m.ID)
			}
		}
		return ids
	}
	var first string
	waitFor(t, 20*time.Second, "the first member", func() bool {
		if ids := active(); len(ids) == 1 {
			first = ids[0]
			return true
		}
		return false
	})
	waitFor(t, 30*time.Second, "the silent member to be replaced", func() bool {
		ids := active()
		return len(ids) == 1 && ids[0] != first
	})
	evs, err := e.client.PoolEvents(bg, "mute")
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, ev := range evs {
		found = found || (ev.Reason == "BootTimeout" && strings.Contains(ev.Message, first))
	}
	if !found {
		t.Fatalf("no BootTimeout event naming %s: %+v", first, evs)
	}
}
