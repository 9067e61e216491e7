package azure

import (
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v8"

	"github.com/algos-dev/algos/clouds"
)

func TestNormalizeState(t *testing.T) {
	t.Parallel()
	status := func(codes ...string) []*armcompute.InstanceViewStatus {
		var out []*armcompute.InstanceViewStatus
		for _, c := range codes {
			out = append(out, &armcompute.InstanceViewStatus{Code: to.Ptr(c)})
		}
		return out
	}
	cases := []struct {
		prov     string
		statuses []*armcompute.InstanceViewStatus
		want     clouds.InstanceState
	}{
		{"Creating", nil, clouds.StatePending},
		{"Creating", status("ProvisioningState/creating", "PowerState/starting"), clouds.StatePending},
		{"Succeeded", status("ProvisioningState/succeeded", "PowerState/running"), clouds.StateRunning},
		{"Succeeded", nil, clouds.StateRunning},
		{"Updating", status("PowerState/running"), clouds.StateRunning},
		{"Succeeded", status("PowerState/stopping"), clouds.StateStopping},
		{"Succeeded", status("PowerState/deallocating"), clouds.StateStopping},
		{"Deleting", status("PowerState/running"), clouds.StateStopping},
		{"Succeeded", status("PowerState/stopped"), clouds.StateTerminated},
		{"Succeeded", status("PowerState/deallocated"), clouds.StateTerminated},
		{"", status("ProvisioningState/failed/ZonalAllocationFailed"), clouds.StateTerminated},
		{"Failed", nil, clouds.StateTerminated},
		{"", nil, clouds.StatePending},
	}
	for _, tc := range cases {
		if got := normalizeState(tc.prov, tc.statuses); got != tc.want {
			var codes []string
			for _, s := range tc.statuses {
				codes = append(codes, *s.Code)
			}
			t.Errorf("normalizeState(%q, %v) = %s, want %s", tc.prov, codes, got, tc.want)
		}
	}
}

func TestNames(t *testing.T) {
	t.Parallel()
	valid := regexp.MustCompile(`^[a-z][a-z0-9-]{0,39}-[0-9a-f]{8}$`)
	for _, display := range []string{"", "web", "GPU worker #1", "---", "42 is the answer", strings.Repeat("long", 30), "ünïcødé"} {
		n := uniqueName(display)
		if !valid.MatchString(n) || strings.Contains(n, "--") {
			t.Errorf("uniqueName(%q) = %q: not a valid VM, disk and host name", display, n)
		}
	}
	if a, b := uniqueName("x"), uniqueName("x"); a == b {
		t.Errorf("uniqueName returned %q twice", a)
	}
	for id, want := range map[string][3]string{
		"pool_3": {"pool", "3", "true"}, "my_pool_12": {"my_pool", "12", "true"},
		"web-1a2b3c4d": {"", "", "false"}, "pool_": {"", "", "false"}, "_3": {"", "", "false"}, "pool_x": {"", "", "false"},
	} {
		set, inst, ok := splitMemberID(id)
		if set != want[0] || inst != want[1] || (ok && want[2] != "true") || (!ok && want[2] == "true") {
			t.Errorf("splitMemberID(%q) = %q, %q, %v; want %v", id, set, inst, ok, want)
		}
	}
	const nic = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/networkInterfaces/web-1a2b3c4d-nic/ipConfigurations/ipconfig"
	if got := instanceOfIPConfig(nic); got != "web-1a2b3c4d" {
		t.Errorf("instanceOfIPConfig(VM NIC) = %q", got)
	}
	const member = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachineScaleSets/pool/virtualMachines/7/networkInterfaces/nic/ipConfigurations/ipconfig"
	if got := instanceOfIPConfig(member); got != "pool_7" {
		t.Errorf("instanceOfIPConfig(member NIC) = %q", got)
	}
}

func TestImageReference(t *testing.T) {
	t.Parallel()
	ref, err := imageReference("")
	if err != nil || *ref.Publisher != "Canonical" || *ref.Offer != "ubuntu-24_04-lts" || *ref.SKU != "server" || *ref.Version != "latest" {
		t.Errorf("imageReference(\"\") = %+v, %v; want %s", ref, err, DefaultImage)
	}
	id := "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/galleries/g/images/algos/versions/1.0.0"
	if ref, err := imageReference(id); err != nil || *ref.ID != id {
		t.Errorf("imageReference(gallery image) = %+v, %v", ref, err)
	}
	for _, bad := range []string{"ubuntu", "a:b:c", "a::c:d", "a:b:c:d:e"} {
		if _, err := imageReference(bad); !errors.Is(err, clouds.ErrInvalid) {
			t.Errorf("imageReference(%q) = %v, want ErrInvalid", bad, err)
		}
	}
}

func TestQuotaMessages(t *testing.T) {
	t.Parallel()
	cases := []struct {
		code, msg string
		quota     bool
		resource  string
	}{
		{"OperationNotAllowed", "Operation could not be completed as it results in exceeding approved standardNDSH100v5Family Cores quota.", true, "vcpus"},
		{"OperationNotAllowed", "Operation results in exceeding quota limits of LowPriorityCores. Maximum allowed: 0", true, "spot vcpus"},
		{"OperationNotAllowed", "Operation 'start' is not allowed since the VM is marked for deletion.", false, ""},
		{"QuotaExceeded", "", true, ""},
		{"PublicIPCountLimitReached", "Cannot create more than 10 public IP addresses", true, "public ip addresses"},
	}
	for _, tc := range cases {
		if got := isQuota(tc.code, tc.msg); got != tc.quota {
			t.Errorf("isQuota(%s, %q) = %v", tc.code, tc.msg, got)
		}
		if got := quotaResource(tc.code, tc.msg); got != tc.resource {
			t.Errorf("quotaResource(%s, %q) = %q, want %q", tc.code, tc.msg, got, tc.resource)
		}
	}
}
