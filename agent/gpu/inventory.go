// Package gpu is the agent's view of the node's NVIDIA GPUs: their inventory (through NVML,
// github.com/NVIDIA/go-nvml, behind nvml.Interface so that its mocks drive the tests), the
// Allocator that grants workers whole GPUs or a memory share of one, and the Sampler that
// watches the GPU memory of each worker's process tree.
//
// NVML needs cgo: built without it, Open reports a node without GPUs. A node without the NVIDIA
// driver is a node without GPUs, not an error.
package gpu

import (
	"fmt"
	"math"

	"github.com/algos-dev/algos/api"
)

// Inventory is what the node's GPUs are, as NVML reported them at one moment.
type Inventory struct {
	// DriverVersion is the NVIDIA driver's version ("" without GPUs).
	DriverVersion string
	// Devices are the physical GPUs in NVML's index order.
	Devices []Device
	// Problems names devices NVML could not describe (a GPU fallen off the bus, say); they are
	// left out of Devices.
	Problems []string
}

// Device is one physical GPU.
type Device struct {
	// Index is NVML's index of the device (not necessarily CUDA's order).
	Index int
	// UUID is the GPU's UUID, "GPU-…": what CUDA_VISIBLE_DEVICES names it by.
	UUID string
	// Model is the product name, e.g. "NVIDIA H100 80GB HBM3".
	Model string
	// MemoryMiB and UsedMiB are the GPU's total and used memory.
	MemoryMiB int
	UsedMiB   int
	// MIG: the GPU runs in MIG mode; it is then used through its MIGDevices only.
	MIG bool
	// MIGDevices are the GPU's MIG devices (GPU instance + compute instance), when MIG is on.
	MIGDevices []MIGDevice
}

// MIGDevice is a MIG device: a slice of a GPU in MIG mode, which CUDA sees as a GPU of its own.
type MIGDevice struct {
	// Index is the MIG device's index within its parent.
	Index int
	// UUID is the MIG device's UUID, "MIG-…".
	UUID string
	// Profile is its profile as nvidia-smi names it, e.g. "1g.10gb" or "1c.2g.20gb".
	Profile   string
	MemoryMiB int
	UsedMiB   int
	// ParentUUID is the UUID of the GPU it is a slice of.
	ParentUUID string
}

// Unit is something a worker can be granted: a whole GPU not in MIG mode, or a MIG device.
type Unit struct {
	UUID string
	// Model is the GPU's product name; a MIG device's ends with " MIG <profile>".
	Model      string
	MemoryMiB  int
	UsedMiB    int
	MIG        bool
	ParentUUID string // MIG devices only
}

// Units lists what the inventory can grant: every GPU not in MIG mode and every MIG device,
// in device order. A GPU in MIG mode without MIG devices offers nothing.
func (inv Inventory) Units() []Unit {
	var out []Unit
	for _, d := range inv.Devices {
		if !d.MIG {
			out = append(out, Unit{UUID: d.UUID, Model: d.Model, MemoryMiB: d.MemoryMiB, UsedMiB: d.UsedMiB})
			continue
		}
		for _, m := range d.MIGDevices {
			out = append(out, Unit{UUID: m.UUID, Model: d.Model + " MIG " + m.Profile, MemoryMiB: m.MemoryMiB,
				UsedMiB: m.UsedMiB, MIG: true, ParentUUID: d.UUID})
		}
	}
	return out
}

// API returns the inventory as the node reports it to the control plane: one entry per Unit.
func (inv Inventory) API() []api.GPUDevice {
	units := inv.Units()
	if len(units) == 0 {
		return nil
	}
	out := make([]api.GPUDevice, len(units))
	for i, u := range units {
		out[i] = api.GPUDevice{UUID: u.UUID, Model: u.Model, MemoryMiB: u.MemoryMiB, UsedMiB: u.UsedMiB,
			MIG: u.MIG, ParentUUID: u.ParentUUID}
	}
	return out
}

// ProcessMemory is the GPU memory one process holds on one device (a GPU or a MIG device).
type ProcessMemory struct {
	// DeviceUUID is the GPU's UUID, or the MIG device's for a GPU in MIG mode.
	DeviceUUID string
	// PID is the process's ID as the driver reports it (the host's PID namespace).
	PID int
	// UsedMiB is the memory it holds; -1 when the driver does not say (no privilege, say).
	UsedMiB int
}

// Driver is what the agent needs from the GPU driver. Implementations: *NVML (with cgo) and
// None. Both methods may block for the driver's calls (milliseconds) and are safe for
// concurrent use.
type Driver interface {
	// Inventory describes the GPUs now (used memory is fresh at each call).
	Inventory() (Inventory, error)
	// Processes lists the GPU memory of every process using a GPU (compute and graphics), per
	// device; a GPU in MIG mode reports its processes per MIG device. With an error it may
	// still return what it could read.
	Processes() ([]ProcessMemory, error)
}

// None is the Driver of a node without GPUs (no NVIDIA driver, or built without cgo).
type None struct {
	// Reason says why there are no GPUs, for logs and `algos gpu-check`.
	Reason string
}

var _ Driver = None{}

// Inventory returns an empty inventory.
func (None) Inventory() (Inventory, error) { return Inventory{}, nil }

// Processes returns nothing.
func (None) Processes() ([]ProcessMemory, error) { return nil, nil }

// mib converts bytes to MiB, rounding down.
func mib(b uint64) int { return int(b >> 20) }

// migProfile names a MIG device's profile as nvidia-smi does ("1g.10gb", "1c.2g.20gb") from its
// slice counts and memory, the way NVIDIA's device plugin derives it: the memory is rounded up
// to eighths of the parent's and shown in whole GB of it.
func migProfile(giSlices, ciSlices uint32, memMB, parentBytes uint64) string {
	gb := memMB / 1024
	if parentBytes > 0 {
		const eighths = 8
		frac := float64(memMB<<20) / float64(parentBytes)
		frac = math.Ceil(frac*eighths) / eighths
		totalGB := float64((parentBytes + 1<<30 - 1) >> 30)
		gb = uint64(math.Round(frac * totalGB))
	}
	if ciSlices > 0 && ciSlices != giSlices {
		return fmt.Sprintf("%dc.%dg.%dgb", ciSlices, giSlices, gb)
	}
	return fmt.Sprintf("%dg.%dgb", giSlices, gb)
}
