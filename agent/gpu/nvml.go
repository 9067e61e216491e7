//go:build cgo

package gpu

import (
	"errors"
	"fmt"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
)

// NewLibrary returns NVML as the NVIDIA driver ships it (libnvidia-ml.so.1, loaded at Init). On
// a machine without the driver its Init returns ERROR_LIBRARY_NOT_FOUND.
func NewLibrary() nvml.Interface { return nvml.New() }

// absent reports the Init results that mean "no NVIDIA GPU here" rather than a fault.
func absent(ret nvml.Return) bool {
	return ret == nvml.ERROR_LIBRARY_NOT_FOUND || ret == nvml.ERROR_DRIVER_NOT_LOADED
}

// nvmlError wraps an NVML return code with what was being done.
func nvmlError(doing string, ret nvml.Return) error {
	return fmt.Errorf("nvml: %s: %s", doing, ret.Error())
}

// Discover initialises lib, describes its GPUs and shuts lib down again. A machine without the
// NVIDIA library or driver has an empty inventory and no error.
func Discover(lib nvml.Interface) (Inventory, error) {
	ret := lib.Init()
	if absent(ret) {
		return Inventory{}, nil
	}
	if ret != nvml.SUCCESS {
		return Inventory{}, nvmlError("init", ret)
	}
	defer lib.Shutdown()
	return describe(lib)
}

// Open opens the node's NVML (NewLibrary) with OpenLibrary.
func Open() (Driver, func(), error) { return OpenLibrary(NewLibrary()) }

// OpenLibrary initialises lib and returns it as a Driver, with the func that shuts it down.
// Without the NVIDIA library or driver it returns None and no error.
func OpenLibrary(lib nvml.Interface) (Driver, func(), error) {
	ret := lib.Init()
	switch {
	case ret == nvml.ERROR_LIBRARY_NOT_FOUND:
		return None{Reason: "the NVIDIA driver's NVML library (libnvidia-ml.so.1) is not installed"}, func() {}, nil
	case ret == nvml.ERROR_DRIVER_NOT_LOADED:
		return None{Reason: "the NVIDIA kernel driver is not loaded"}, func() {}, nil
	case ret != nvml.SUCCESS:
		return nil, nil, nvmlError("init", ret)
	}
	return &NVML{lib: lib}, func() { lib.Shutdown() }, nil
}

// NVML is the Driver of a node with the NVIDIA driver: it answers from an initialised
// nvml.Interface (see OpenLibrary). Safe for concurrent use.
type NVML struct {
	lib nvml.Interface
}

var _ Driver = (*NVML)(nil)

// Inventory describes the GPUs now.
func (n *NVML) Inventory() (Inventory, error) { return describe(n.lib) }

// describe reads the inventory from an initialised library.
func describe(lib nvml.Interface) (Inventory, error) {
	var inv Inventory
	if v, ret := lib.SystemGetDriverVersion(); ret == nvml.SUCCESS {
		inv.DriverVersion = v
	}
	count, ret := lib.DeviceGetCount()
	if ret != nvml.SUCCESS {
		return inv, nvmlError("count devices", ret)
	}
	for i := range count {
		d, err := describeDevice(lib, i)
		if err != nil {
			inv.Problems = append(inv.Problems, fmt.Sprintf("device %d: %v", i, err))
			continue
		}
		inv.Devices = append(inv.Devices, d)
	}
	return inv, nil
}

func describeDevice(lib nvml.Interface, i int) (Device, error) {
	d := Device{Index: i}
	h, ret := lib.DeviceGetHandleByIndex(i)
	if ret != nvml.SUCCESS {
		return d, nvmlError("get handle", ret)
	}
	if d.UUID, ret = h.GetUUID(); ret != nvml.SUCCESS {
		return d, nvmlError("get UUID", ret)
	}
	if d.Model, ret = h.GetName(); ret != nvml.SUCCESS {
		return d, nvmlError("get name", ret)
	}
	mem, ret := h.GetMemoryInfo()
	if ret != nvml.SUCCESS {
		return d, nvmlError("get memory", ret)
	}
	d.MemoryMiB, d.UsedMiB = mib(mem.Total), mib(mem.Used)
	cur, _, ret := h.GetMigMode()
	switch {
	case ret == nvml.ERROR_NOT_SUPPORTED: // a GPU without MIG
		return d, nil
	case ret != nvml.SUCCESS:
		return d, nvmlError("get MIG mode", ret)
	case cur != nvml.DEVICE_MIG_ENABLE:
		return d, nil
	}
	d.MIG = true
	migs, err := migDevices(h)
	if err != nil {
		return d, err
	}
	for _, m := range migs {
		md := MIGDevice{Index: m.index, ParentUUID: d.UUID}
		if md.UUID, ret = m.h.GetUUID(); ret != nvml.SUCCESS {
			return d, nvmlError("get MIG device UUID", ret)
		}
		mm, ret := m.h.GetMemoryInfo()
		if ret != nvml.SUCCESS {
			return d, nvmlError("get MIG device memory", ret)
		}
		md.MemoryMiB, md.UsedMiB = mib(mm.Total), mib(mm.Used)
		if at, ret := m.h.GetAttributes(); ret == nvml.SUCCESS {
			md.Profile = migProfile(at.GpuInstanceSliceCount, at.ComputeInstanceSliceCount, at.MemorySizeMB, mem.Total)
		}
		d.MIGDevices = append(d.MIGDevices, md)
	}
	return d, nil
}

type migHandle struct {
	index int
	h     nvml.Device
}

// migDevices lists the MIG devices of a GPU in MIG mode (the slots without one are skipped).
func migDevices(h nvml.Device) ([]migHandle, error) {
	n, ret := h.GetMaxMigDeviceCount()
	if ret != nvml.SUCCESS {
		return nil, nvmlError("get MIG device count", ret)
	}
	var out []migHandle
	for j := range n {
		m, ret := h.GetMigDeviceHandleByIndex(j)
		if ret == nvml.ERROR_NOT_FOUND || ret == nvml.ERROR_INVALID_ARGUMENT {
			continue
		}
		if ret != nvml.SUCCESS {
			return nil, nvmlError("get MIG device", ret)
		}
		out = append(out, migHandle{index: j, h: m})
	}
	return out, nil
}

// Processes lists every process's GPU memory per device (per MIG device on GPUs in MIG mode),
// compute and graphics processes together. A device it cannot read is skipped; the error then
// names it, and the list holds the others.
func (n *NVML) Processes() ([]ProcessMemory, error) {
	count, ret := n.lib.DeviceGetCount()
	if ret != nvml.SUCCESS {
		return nil, nvmlError("count devices", ret)
	}
	var out []ProcessMemory
	var errs []error
	for i := range count {
		h, ret := n.lib.DeviceGetHandleByIndex(i)
		if ret != nvml.SUCCESS {
			errs = append(errs, nvmlError(fmt.Sprintf("device %d: get handle", i), ret))
			continue
		}
		handles := []nvml.Device{h}
		if cur, _, ret := h.GetMigMode(); ret == nvml.SUCCESS && cur == nvml.DEVICE_MIG_ENABLE {
			migs, err := migDevices(h)
			if err != nil {
				errs = append(errs, fmt.Errorf("device %d: %w", i, err))
				continue
			}
			handles = handles[:0]
			for _, m := range migs {
				handles = append(handles, m.h)
			}
		}
		for _, dh := range handles {
			ps, err := deviceProcesses(dh)
			if err != nil {
				errs = append(errs, fmt.Errorf("device %d: %w", i, err))
			}
			out = append(out, ps...)
		}
	}
	return out, errors.Join(errs...)
}

// deviceProcesses reads one device's compute and graphics processes; a PID listed in both
// counts once, with the larger figure.
func deviceProcesses(h nvml.Device) ([]ProcessMemory, error) {
	uuid, ret := h.GetUUID()
	if ret != nvml.SUCCESS {
		return nil, nvmlError("get UUID", ret)
	}
	var out []ProcessMemory
	seen := map[int]int{} // pid → index in out
	for _, list := range []struct {
		what string
		get  func() ([]nvml.ProcessInfo, nvml.Return)
	}{{"compute", h.GetComputeRunningProcesses}, {"graphics", h.GetGraphicsRunningProcesses}} {
		infos, ret := list.get()
		if ret == nvml.ERROR_NOT_SUPPORTED {
			continue
		}
		if ret != nvml.SUCCESS {
			return out, nvmlError(uuid+": list "+list.what+" processes", ret)
		}
		for _, p := range infos {
			used := -1
			if p.UsedGpuMemory != ^uint64(0) { // NVML_VALUE_NOT_AVAILABLE
				used = mib(p.UsedGpuMemory)
			}
			pid := int(p.Pid)
			if i, ok := seen[pid]; ok {
				out[i].UsedMiB = max(out[i].UsedMiB, used)
				continue
			}
			seen[pid] = len(out)
			out = append(out, ProcessMemory{DeviceUUID: uuid, PID: pid, UsedMiB: used})
		}
	}
	return out, nil
}
