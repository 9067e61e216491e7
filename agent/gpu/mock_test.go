//go:build cgo

package gpu

import (
	"sync"
	"testing"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock/dgxh100"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock/server"
)

// machine is go-nvml's DGX H100 mock (8 × H100 80 GB) with per-process GPU memory that tests
// set, and MIG devices that enableMIG creates through the mock's own GPU instance API.
type machine struct {
	*server.Server
	mu    sync.Mutex
	procs map[string][]nvml.ProcessInfo // by device UUID (a MIG device's for MIG devices)
}

func newMachine(t *testing.T) *machine {
	t.Helper()
	m := &machine{Server: dgxh100.New(), procs: map[string][]nvml.ProcessInfo{}}
	for _, d := range m.Devices {
		m.serveProcesses(&d.(*server.Device).Device, d.(*server.Device).UUID)
	}
	return m
}

// device returns the mock's device i.
func (m *machine) device(i int) *server.Device { return m.Devices[i].(*server.Device) }

func (m *machine) serveProcesses(d *mock.Device, uuid string) {
	d.GetComputeRunningProcessesFunc = func() ([]nvml.ProcessInfo, nvml.Return) {
		m.mu.Lock()
		defer m.mu.Unlock()
		return append([]nvml.ProcessInfo(nil), m.procs[uuid]...), nvml.SUCCESS
	}
	d.GetGraphicsRunningProcessesFunc = func() ([]nvml.ProcessInfo, nvml.Return) {
		return nil, nvml.ERROR_NOT_SUPPORTED // an H100 has no graphics engine
	}
}

// setProcesses makes device uuid report these processes: PID → MiB (-1: not available).
func (m *machine) setProcesses(uuid string, used map[int]int) {
	var infos []nvml.ProcessInfo
	for pid, mb := range used {
		b := uint64(mb) << 20
		if mb < 0 {
			b = ^uint64(0)
		}
		infos = append(infos, nvml.ProcessInfo{Pid: uint32(pid), UsedGpuMemory: b})
	}
	m.mu.Lock()
	m.procs[uuid] = infos
	m.mu.Unlock()
}

// enableMIG turns MIG on for device i and creates n GPU instances of the profile, each with
// one compute instance, through the mock's API; the device then lists them as MIG devices
// (UUIDs "MIG-<parent>-<k>") that report their memory, attributes and processes.
func (m *machine) enableMIG(t *testing.T, i, profile, n int) []string {
	t.Helper()
	d := m.device(i)
	if ret, _ := d.SetMigMode(nvml.DEVICE_MIG_ENABLE); ret != nvml.SUCCESS {
		t.Fatalf("SetMigMode: %v", ret)
	}
	gip, ret := d.GetGpuInstanceProfileInfo(profile)
	if ret != nvml.SUCCESS {
		t.Fatalf("GetGpuInstanceProfileInfo(%d): %v", profile, ret)
	}
	var migs []nvml.Device
	var uuids []string
	for k := range n {
		gi, ret := d.CreateGpuInstance(&gip)
		if ret != nvml.SUCCESS {
			t.Fatalf("CreateGpuInstance: %v", ret)
		}
		cip, ret := gi.GetComputeInstanceProfileInfo(nvml.COMPUTE_INSTANCE_PROFILE_1_SLICE, nvml.COMPUTE_INSTANCE_ENGINE_PROFILE_SHARED)
		if ret != nvml.SUCCESS {
			t.Fatalf("GetComputeInstanceProfileInfo: %v", ret)
		}
		if _, ret := gi.CreateComputeInstance(&cip); ret != nvml.SUCCESS {
			t.Fatalf("CreateComputeInstance: %v", ret)
		}
		uuid := "MIG-" + d.UUID[len("GPU-"):] + "-" + string(rune('0'+k))
		h := &mock.Device{}
		h.GetUUIDFunc = func() (string, nvml.Return) { return uuid, nvml.SUCCESS }
		h.GetMemoryInfoFunc = func() (nvml.Memory, nvml.Return) {
			return nvml.Memory{Total: gip.MemorySizeMB << 20}, nvml.SUCCESS
		}
		h.GetAttributesFunc = func() (nvml.DeviceAttributes, nvml.Return) {
			return nvml.DeviceAttributes{GpuInstanceSliceCount: gip.SliceCount, ComputeInstanceSliceCount: gip.SliceCount,
				MemorySizeMB: gip.MemorySizeMB}, nvml.SUCCESS
		}
		m.serveProcesses(h, uuid)
		migs = append(migs, h)
		uuids = append(uuids, uuid)
	}
	d.GetMaxMigDeviceCountFunc = func() (int, nvml.Return) { return 7, nvml.SUCCESS }
	d.GetMigDeviceHandleByIndexFunc = func(j int) (nvml.Device, nvml.Return) {
		if j < 0 || j >= 7 {
			return nil, nvml.ERROR_INVALID_ARGUMENT
		}
		if j >= len(migs) {
			return nil, nvml.ERROR_NOT_FOUND
		}
		return migs[j], nvml.SUCCESS
	}
	return uuids
}

// inventory discovers the machine's inventory.
func (m *machine) inventory(t *testing.T) Inventory {
	t.Helper()
	inv, err := Discover(m)
	if err != nil {
		t.Fatalf("Discover: %v", err)
	}
	return inv
}
