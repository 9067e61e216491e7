package openstack

import (
	"errors"
	"slices"
	"testing"

	"github.com/algos-dev/algos/clouds"
)

func TestState(t *testing.T) {
	t.Parallel()
	cases := []struct {
		status, task string
		want         clouds.InstanceState
	}{
		{"BUILD", "scheduling", clouds.StatePending},
		{"BUILD", "spawning", clouds.StatePending},
		{"REBUILD", "rebuilding", clouds.StatePending},
		{"ACTIVE", "", clouds.StateRunning},
		{"REBOOT", "rebooting", clouds.StateRunning},
		{"VERIFY_RESIZE", "", clouds.StateRunning},
		{"ACTIVE", "deleting", clouds.StateStopping},
		{"BUILD", "deleting", clouds.StateStopping},
		{"ACTIVE", "powering-off", clouds.StateStopping},
		{"ACTIVE", "shelving", clouds.StateStopping},
		{"SHUTOFF", "", clouds.StateTerminated},
		{"SHUTOFF", "deleting", clouds.StateTerminated},
		{"SUSPENDED", "", clouds.StateTerminated},
		{"PAUSED", "", clouds.StateTerminated},
		{"SHELVED_OFFLOADED", "", clouds.StateTerminated},
		{"SOFT_DELETED", "", clouds.StateTerminated},
		{"DELETED", "", clouds.StateTerminated},
		{"ERROR", "", clouds.StateTerminated},
		{"UNKNOWN", "", clouds.StatePending},
	}
	for _, tc := range cases {
		if got := state(tc.status, tc.task); got != tc.want {
			t.Errorf("state(%s, %q) = %s, want %s", tc.status, tc.task, got, tc.want)
		}
	}
}

func TestFaultMessage(t *testing.T) {
	t.Parallel()
	cases := []struct{ body, want string }{
		{`{"itemNotFound": {"code": 404, "message": "Instance x could not be found."}}`, "Instance x could not be found."},
		{`{"faultcode": "Client", "faultstring": "Load Balancer x not found.", "debuginfo": null}`, "Load Balancer x not found."},
		{`{"code": 409, "error": {"message": "The Stack (x) already exists.", "type": "StackExists"}, "title": "Conflict"}`, "The Stack (x) already exists."},
		{`{"NeutronError": {"type": "FloatingIPNotFound", "message": "Floating IP x could not be found", "detail": ""}}`, "Floating IP x could not be found"},
		{`{"message": "Too Many Requests"}`, "Too Many Requests"},
		{`<html>502 Bad Gateway</html>`, "<html>502 Bad Gateway</html>"},
	}
	for _, tc := range cases {
		if got := faultMessage([]byte(tc.body)); got != tc.want {
			t.Errorf("faultMessage(%s) = %q, want %q", tc.body, got, tc.want)
		}
	}
}

func TestQuotaMessages(t *testing.T) {
	t.Parallel()
	d := &Driver{region: "r1"}
	cases := []struct{ msg, resource string }{
		{"Quota exceeded for cores: Requested 8, but already used 20 of 20 cores", "vcpus"},
		{"Quota exceeded for ram: Requested 8192, but already used 0 of 4096 ram", "memory"},
		{"Quota exceeded for instances: Requested 1, but already used 10 of 10 instances", "instances"},
		{"Quota has been met for resources: Load Balancer", "load balancer"},
		{"VolumeSizeExceedsAvailableQuota: Requested volume or snapshot exceeds allowed gigabytes quota.", "gigabytes"},
		{"VolumeLimitExceeded: Maximum number of volumes allowed (10) exceeded for quota 'volumes'.", "volumes"},
	}
	for _, tc := range cases {
		var q *clouds.QuotaError
		if err := d.quota(tc.msg); !errors.As(err, &q) || q.Resource != tc.resource || q.Region != "r1" {
			t.Errorf("quota(%q) = %v, want a *QuotaError for %s", tc.msg, err, tc.resource)
		}
	}
	if err := d.quota("Policy doesn't allow os_compute_api:servers:create to be performed."); err != nil {
		t.Errorf("quota(policy message) = %v, want nil", err)
	}
}

func TestGPUs(t *testing.T) {
	t.Parallel()
	table := DefaultGPUAliases()
	cases := []struct {
		extra map[string]string
		want  []clouds.GPU
	}{
		{map[string]string{"pci_passthrough:alias": "a100:2"}, []clouds.GPU{{Model: "NVIDIA A100", Count: 2, MemoryMiB: 40960}}},
		{map[string]string{"pci_passthrough:alias": "nvidia-h100:8"}, []clouds.GPU{{Model: "NVIDIA H100", Count: 8, MemoryMiB: 81920}}},
		{map[string]string{"pci_passthrough:alias": "NVIDIA_A100_80GB:4"}, []clouds.GPU{{Model: "NVIDIA A100", Count: 4, MemoryMiB: 81920}}},
		{map[string]string{"pci_passthrough:alias": "t4"}, []clouds.GPU{{Model: "NVIDIA T4", Count: 1, MemoryMiB: 16384}}},
		{map[string]string{"pci_passthrough:alias": "a100:1,a100:1, t4:2"}, []clouds.GPU{{Model: "NVIDIA A100", Count: 2, MemoryMiB: 40960}, {Model: "NVIDIA T4", Count: 2, MemoryMiB: 16384}}},
		{map[string]string{"pci_passthrough:alias": "mellanox-cx6:1"}, nil},
		{map[string]string{"pci_passthrough:alias": "a100:zero"}, nil},
		{map[string]string{"resources:VGPU": "1"}, []clouds.GPU{{Model: "vGPU", Count: 1}}},
		{map[string]string{"resources:VGPU": "2", "trait:CUSTOM_NVIDIA_L4": "required"}, []clouds.GPU{{Model: "NVIDIA L4", Count: 2, MemoryMiB: 24576}}},
		{map[string]string{"hw:cpu_policy": "dedicated"}, nil},
	}
	for _, tc := range cases {
		if got := gpus(tc.extra, table); !slices.Equal(got, tc.want) {
			t.Errorf("gpus(%v) = %v, want %v", tc.extra, got, tc.want)
		}
	}
}

func TestErrorText(t *testing.T) {
	t.Parallel()
	e := &Error{Op: "create server", Status: 403, Message: "Quota exceeded for cores: …", Kind: &clouds.QuotaError{Resource: "vcpus", Msg: "Quota exceeded for cores: …"}}
	if got, want := e.Error(), "openstack: create server: clouds: quota exceeded for vcpus: Quota exceeded for cores: … (HTTP 403)"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	e = &Error{Op: "get server x", Status: 404, Message: "Instance x could not be found.", Kind: clouds.ErrNotFound}
	if got, want := e.Error(), "openstack: get server x: clouds: not found: Instance x could not be found. (HTTP 404)"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}
