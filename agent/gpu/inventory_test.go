//go:build cgo

package gpu

import (
	"strings"
	"testing"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock"
)

func TestDiscoverDGXH100(t *testing.T) {
	t.Parallel()
	m := newMachine(t)
	inv := m.inventory(t)
	if inv.DriverVersion != "550.54.15" {
		t.Errorf("driver version %q", inv.DriverVersion)
	}
	if len(inv.Devices) != 8 || len(inv.Problems) != 0 {
		t.Fatalf("devices %d, problems %v; want 8, none", len(inv.Devices), inv.Problems)
	}
	seen := map[string]bool{}
	for i, d := range inv.Devices {
		if d.Index != i || d.Model != "NVIDIA H100 80GB HBM3" || d.MemoryMiB != 81920 || d.MIG || len(d.MIGDevices) != 0 {
			t.Errorf("device %d: %+v", i, d)
		}
		if !strings.HasPrefix(d.UUID, "GPU-") || seen[d.UUID] {
			t.Errorf("device %d: UUID %q not a fresh GPU UUID", i, d.UUID)
		}
		seen[d.UUID] = true
	}
	devs := inv.API()
	if len(devs) != 8 || devs[3].UUID != inv.Devices[3].UUID || devs[3].MemoryMiB != 81920 || devs[3].MIG || devs[3].ParentUUID != "" {
		t.Errorf("API() = %+v", devs)
	}
}

func TestDiscoverMIG(t *testing.T) {
	t.Parallel()
	m := newMachine(t)
	small := m.enableMIG(t, 0, nvml.GPU_INSTANCE_PROFILE_1_SLICE, 7)
	big := m.enableMIG(t, 1, nvml.GPU_INSTANCE_PROFILE_3_SLICE, 2)
	m.enableMIG(t, 2, nvml.GPU_INSTANCE_PROFILE_1_SLICE, 0) // MIG on, no instance yet
	inv := m.inventory(t)
	d0 := inv.Devices[0]
	if !d0.MIG || len(d0.MIGDevices) != 7 {
		t.Fatalf("device 0: MIG %v with %d MIG devices; want 7", d0.MIG, len(d0.MIGDevices))
	}
	for k, md := range d0.MIGDevices {
		if md.UUID != small[k] || md.Profile != "1g.10gb" || md.MemoryMiB != 10240 || md.ParentUUID != d0.UUID || md.Index != k {
			t.Errorf("MIG device %d: %+v", k, md)
		}
	}
	if d1 := inv.Devices[1]; len(d1.MIGDevices) != 2 || d1.MIGDevices[1].UUID != big[1] || d1.MIGDevices[1].Profile != "3g.40gb" {
		t.Errorf("device 1: %+v", d1)
	}
	if d2 := inv.Devices[2]; !d2.MIG || len(d2.MIGDevices) != 0 {
		t.Errorf("device 2: %+v", d2)
	}
	units := inv.Units()
	if len(units) != 5+7+2 {
		t.Fatalf("%d units; want 14 (5 GPUs, 9 MIG devices)", len(units))
	}
	api := inv.API()
	if a := api[0]; !a.MIG || a.UUID != small[0] || a.ParentUUID != d0.UUID || a.Model != "NVIDIA H100 80GB HBM3 MIG 1g.10gb" {
		t.Errorf("API()[0] = %+v", a)
	}
	if a := api[9]; a.MIG || a.UUID != inv.Devices[3].UUID {
		t.Errorf("API()[9] = %+v; want GPU 3", a)
	}
}

// TestDiscoverWithoutDriver: no library and no driver mean no GPUs; other failures are errors.
func TestDiscoverWithoutDriver(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		ret     nvml.Return
		wantErr bool
	}{
		{nvml.ERROR_LIBRARY_NOT_FOUND, false},
		{nvml.ERROR_DRIVER_NOT_LOADED, false},
		{nvml.ERROR_NO_PERMISSION, true},
	} {
		lib := &mock.Interface{InitFunc: func() nvml.Return { return tc.ret }}
		inv, err := Discover(lib)
		if (err != nil) != tc.wantErr || len(inv.Devices) != 0 {
			t.Errorf("Init → %v: inventory %+v, err %v; want error %v", tc.ret, inv, err, tc.wantErr)
		}
		d, closeLib, err := OpenLibrary(lib)
		if tc.wantErr {
			if err == nil {
				t.Errorf("OpenLibrary with Init → %v: no error", tc.ret)
			}
			continue
		}
		closeLib()
		if none, ok := d.(None); err != nil || !ok || none.Reason == "" {
			t.Errorf("OpenLibrary with Init → %v: %T %+v, %v; want None with a reason", tc.ret, d, d, err)
		}
	}
}

// TestDiscoverReal runs the real NVML: on a machine without the NVIDIA driver it must report no
// GPU and no error; on one with it, GPUs.
func TestDiscoverReal(t *testing.T) {
	t.Parallel()
	inv, err := Discover(NewLibrary())
	if err != nil {
		t.Fatalf("Discover(NewLibrary()): %v", err)
	}
	d, closeLib, err := Open()
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer closeLib()
	_, isNone := d.(None)
	if isNone != (len(inv.Devices) == 0) {
		t.Errorf("Open gave %T while Discover found %d device(s)", d, len(inv.Devices))
	}
	t.Logf("real inventory: %+v", inv)
}

func TestDeviceProblem(t *testing.T) {
	t.Parallel()
	m := newMachine(t)
	m.device(5).GetMemoryInfoFunc = func() (nvml.Memory, nvml.Return) { return nvml.Memory{}, nvml.ERROR_GPU_IS_LOST }
	inv := m.inventory(t)
	if len(inv.Devices) != 7 || len(inv.Problems) != 1 || !strings.Contains(inv.Problems[0], "device 5") {
		t.Errorf("devices %d, problems %q; want 7 and one naming device 5", len(inv.Devices), inv.Problems)
	}
}

func TestMIGProfile(t *testing.T) {
	t.Parallel()
	const h100 = 81559 << 20 // what a real H100 80GB reports
	for _, tc := range []struct {
		gi, ci uint32
		memMB  uint64
		parent uint64
		want   string
	}{
		{1, 1, 9856, h100, "1g.10gb"},
		{1, 1, 19968, h100, "1g.20gb"},
		{3, 3, 40192, h100, "3g.40gb"},
		{7, 7, 80896, h100, "7g.80gb"},
		{2, 1, 19968, h100, "1c.2g.20gb"},
		{1, 1, 10240, 0, "1g.10gb"},
	} {
		if got := migProfile(tc.gi, tc.ci, tc.memMB, tc.parent); got != tc.want {
			t.Errorf("migProfile(%d, %d, %d, %d) = %q; want %q", tc.gi, tc.ci, tc.memMB, tc.parent, got, tc.want)
		}
	}
}
