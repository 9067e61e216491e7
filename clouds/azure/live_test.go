package azure_test

import (
	"context"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/algos-dev/algos/clouds"
	"github.com/algos-dev/algos/clouds/azure"
	"github.com/algos-dev/algos/clouds/cloudtest"
)

// liveDriver returns a driver on a real Azure account, configured from the environment
// (see the package documentation), or skips the test when ALGOS_AZURE_LIVE is not 1.
func liveDriver(t *testing.T) (*azure.Driver, string) {
	t.Helper()
	if os.Getenv("ALGOS_AZURE_LIVE") != "1" {
		t.Skip("set ALGOS_AZURE_LIVE=1 (and the ALGOS_AZURE_* variables) to run against a real Azure account")
	}
	cfg := azure.Config{
		SubscriptionID: os.Getenv("AZURE_SUBSCRIPTION_ID"),
		ResourceGroup:  os.Getenv("ALGOS_AZURE_RESOURCE_GROUP"),
		Location:       os.Getenv("ALGOS_AZURE_LOCATION"),
		SubnetID:       os.Getenv("ALGOS_AZURE_SUBNET_ID"),
		SSHPublicKey:   os.Getenv("ALGOS_AZURE_SSH_PUBLIC_KEY"),
		Logger:         slog.New(slog.NewTextHandler(t.Output(), nil)),
	}
	if z := os.Getenv("ALGOS_AZURE_ZONES"); z != "" {
		cfg.Zones = strings.Split(z, ",")
	}
	d, err := azure.New(t.Context(), cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	size := os.Getenv("ALGOS_AZURE_SIZE")
	if size == "" {
		size = "Standard_D2s_v5"
	}
	return d, size
}

func TestLive(t *testing.T) {
	d, size := liveDriver(t)
	spec := clouds.InstanceSpec{InstanceType: size, UserData: sleeper, Tags: map[string]string{"suite": "live"}}
	t.Run("Compute", func(t *testing.T) {
		cloudtest.TestCompute(t, func(*testing.T) clouds.Compute { return d }, spec)
	})
	t.Run("Groups", func(t *testing.T) {
		cloudtest.TestGroups(t, func(*testing.T) clouds.Groups { return d }, spec)
	})
	running := func(t *testing.T, zone string) string {
		s := spec
		s.Zone = zone
		in, err := d.CreateInstance(t.Context(), s)
		if err != nil {
			t.Fatalf("CreateInstance: %v", err)
		}
		t.Cleanup(func() { _ = d.DeleteInstance(context.Background(), in.ID) })
		return in.ID
	}
	zone := os.Getenv("ALGOS_AZURE_LOCATION")
	if z := strings.Split(os.Getenv("ALGOS_AZURE_ZONES"), ",")[0]; z != "" {
		zone = z
	}
	t.Run("LoadBalancers", func(t *testing.T) {
		lb := clouds.LoadBalancerSpec{Protocol: clouds.ProtocolTCP, Port: 80, TargetPort: 22,
			HealthCheck: clouds.HealthCheck{Protocol: clouds.ProtocolTCP, Interval: 5 * time.Second, HealthyThreshold: 1, UnhealthyThreshold: 2}}
		cloudtest.TestLoadBalancers(t, func(*testing.T) clouds.LoadBalancers { return d }, lb,
			func(t *testing.T) []string { return []string{running(t, ""), running(t, "")} })
	})
	t.Run("Disks", func(t *testing.T) {
		disk := clouds.DiskSpec{SizeGiB: 8, Zone: zone}
		if zone == os.Getenv("ALGOS_AZURE_LOCATION") {
			disk.Zone = ""
		}
		cloudtest.TestDisks(t, func(*testing.T) clouds.Disks { return d }, disk,
			func(t *testing.T) string { return running(t, disk.Zone) })
	})
}
