package gcpfake

import (
	"net/http"
	"slices"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"
)

// MachineType is a machine type the fake offers, as GCE's machineTypes list it.
type MachineType struct {
	Name        string
	CPUs        int
	MemoryMiB   int
	Accelerator string // bundled accelerator type ("nvidia-h100-80gb"); "" for none
	GPUs        int
	Zones       []string // nil for every zone
}

// DefaultMachineTypes is a small but real slice of GCE's machine types: the GPU families
// a2 (A100 40GB and 80GB), a3 (H100 80GB; offered in the first two zones only) and g2
// (L4), N1 (to which T4s attach; nvidia-tesla-t4 is offered in every zone), and CPU types
// of e2, n2 and c3.
func DefaultMachineTypes(zones []string) []MachineType {
	gib := func(g int) int { return g << 10 }
	types := []MachineType{
		{Name: "e2-medium", CPUs: 2, MemoryMiB: gib(4)},
		{Name: "e2-standard-2", CPUs: 2, MemoryMiB: gib(8)},
		{Name: "e2-standard-4", CPUs: 4, MemoryMiB: gib(16)},
		{Name: "n1-standard-4", CPUs: 4, MemoryMiB: 15 << 10},
		{Name: "n1-standard-8", CPUs: 8, MemoryMiB: 30 << 10},
		{Name: "n2-standard-2", CPUs: 2, MemoryMiB: gib(8)},
		{Name: "n2-standard-4", CPUs: 4, MemoryMiB: gib(16)},
		{Name: "n2-standard-8", CPUs: 8, MemoryMiB: gib(32)},
		{Name: "c3-standard-4", CPUs: 4, MemoryMiB: gib(16)},
		{Name: "c3-standard-8", CPUs: 8, MemoryMiB: gib(32)},
		{Name: "a2-highgpu-1g", CPUs: 12, MemoryMiB: gib(85), Accelerator: "nvidia-tesla-a100", GPUs: 1},
		{Name: "a2-highgpu-2g", CPUs: 24, MemoryMiB: gib(170), Accelerator: "nvidia-tesla-a100", GPUs: 2},
		{Name: "a2-highgpu-4g", CPUs: 48, MemoryMiB: gib(340), Accelerator: "nvidia-tesla-a100", GPUs: 4},
		{Name: "a2-highgpu-8g", CPUs: 96, MemoryMiB: gib(680), Accelerator: "nvidia-tesla-a100", GPUs: 8},
		{Name: "a2-ultragpu-1g", CPUs: 12, MemoryMiB: gib(170), Accelerator: "nvidia-a100-80gb", GPUs: 1},
		{Name: "a2-ultragpu-8g", CPUs: 96, MemoryMiB: gib(1360), Accelerator: "nvidia-a100-80gb", GPUs: 8},
		{Name: "a3-highgpu-8g", CPUs: 208, MemoryMiB: gib(1872), Accelerator: "nvidia-h100-80gb", GPUs: 8, Zones: zones[:min(2, len(zones))]},
		{Name: "g2-standard-4", CPUs: 4, MemoryMiB: gib(16), Accelerator: "nvidia-l4", GPUs: 1},
		{Name: "g2-standard-24", CPUs: 24, MemoryMiB: gib(96), Accelerator: "nvidia-l4", GPUs: 2},
		{Name: "g2-standard-96", CPUs: 96, MemoryMiB: gib(384), Accelerator: "nvidia-l4", GPUs: 8},
	}
	return types
}

// machineType returns a machine type offered in zone.
func (s *Server) machineType(zone, name string) (MachineType, bool) {
	for _, mt := range s.opts.MachineTypes {
		if mt.Name == name && (mt.Zones == nil || slices.Contains(mt.Zones, zone)) {
			return mt, true
		}
	}
	return MachineType{}, false
}

// machineTypeAnywhere reports whether some zone offers the machine type (templates are
// regional).
func (s *Server) machineTypeAnywhere(name string) bool {
	for _, z := range s.opts.Zones {
		if _, ok := s.machineType(z, lastSegment(name)); ok {
			return true
		}
	}
	return false
}

// acceleratorTypes are the accelerator types offered in zone: those bundled with its
// machine types, and T4s (attachable to N1) everywhere.
func (s *Server) acceleratorTypes(zone string) []string {
	out := []string{"nvidia-tesla-t4"}
	for _, mt := range s.opts.MachineTypes {
		if mt.Accelerator != "" && (mt.Zones == nil || slices.Contains(mt.Zones, zone)) && !slices.Contains(out, mt.Accelerator) {
			out = append(out, mt.Accelerator)
		}
	}
	return out
}

func (s *Server) acceleratorIn(zone, name string) bool {
	return slices.Contains(s.acceleratorTypes(zone), name)
}

// zonalMachineTypes answers machineTypes.list of one zone.
func (s *Server) zonalMachineTypes(r *http.Request) (proto.Message, error) {
	zone := r.PathValue("zone")
	if err := s.checkZone(zone); err != nil {
		return nil, err
	}
	all, _ := s.listMachineTypes(r)
	return &computepb.MachineTypeList{Kind: ptr("compute#machineTypeList"),
		Items: all.(*computepb.MachineTypeAggregatedList).Items["zones/"+zone].GetMachineTypes()}, nil
}

// zonalAcceleratorTypes answers acceleratorTypes.list of one zone.
func (s *Server) zonalAcceleratorTypes(r *http.Request) (proto.Message, error) {
	zone := r.PathValue("zone")
	if err := s.checkZone(zone); err != nil {
		return nil, err
	}
	all, _ := s.listAcceleratorTypes(r)
	return &computepb.AcceleratorTypeList{Kind: ptr("compute#acceleratorTypeList"),
		Items: all.(*computepb.AcceleratorTypeAggregatedList).Items["zones/"+zone].GetAcceleratorTypes()}, nil
}

func (s *Server) listMachineTypes(r *http.Request) (proto.Message, error) {
	out := &computepb.MachineTypeAggregatedList{Kind: ptr("compute#machineTypeAggregatedList"), Items: make(map[string]*computepb.MachineTypesScopedList)}
	for _, z := range s.opts.Zones {
		sl := &computepb.MachineTypesScopedList{}
		for _, mt := range s.opts.MachineTypes {
			if mt.Zones != nil && !slices.Contains(mt.Zones, z) {
				continue
			}
			m := &computepb.MachineType{
				Kind: ptr("compute#machineType"), Name: ptr(mt.Name), GuestCpus: ptr(int32(mt.CPUs)),
				MemoryMb: ptr(int32(mt.MemoryMiB)), Zone: ptr(z), Architecture: ptr("X86_64"),
				SelfLink: ptr(s.link("zones/" + z + "/machineTypes/" + mt.Name)),
			}
			if mt.GPUs > 0 {
				m.Accelerators = []*computepb.Accelerators{{GuestAcceleratorType: ptr(mt.Accelerator), GuestAcceleratorCount: ptr(int32(mt.GPUs))}}
			}
			sl.MachineTypes = append(sl.MachineTypes, m)
		}
		out.Items["zones/"+z] = sl
	}
	return out, nil
}

func (s *Server) listAcceleratorTypes(r *http.Request) (proto.Message, error) {
	out := &computepb.AcceleratorTypeAggregatedList{Kind: ptr("compute#acceleratorTypeAggregatedList"), Items: make(map[string]*computepb.AcceleratorTypesScopedList)}
	for _, z := range s.opts.Zones {
		sl := &computepb.AcceleratorTypesScopedList{}
		for _, a := range s.acceleratorTypes(z) {
			sl.AcceleratorTypes = append(sl.AcceleratorTypes, &computepb.AcceleratorType{
				Kind: ptr("compute#acceleratorType"), Name: ptr(a), Zone: ptr(s.link("zones/" + z)),
				MaximumCardsPerInstance: ptr(int32(8)), SelfLink: ptr(s.link("zones/" + z + "/acceleratorTypes/" + a)),
			})
		}
		out.Items["zones/"+z] = sl
	}
	return out, nil
}

func (s *Server) getRegion(r *http.Request) (proto.Message, error) {
	if err := s.checkRegion(r); err != nil {
		return nil, notFound(s.path("regions/" + r.PathValue("region")))
	}
	reg := &computepb.Region{
		Kind: ptr("compute#region"), Name: ptr(s.opts.Region), Status: ptr("UP"),
		SelfLink: ptr(s.link("regions/" + s.opts.Region)),
	}
	for _, z := range s.opts.Zones {
		reg.Zones = append(reg.Zones, s.link("zones/"+z))
	}
	return reg, nil
}
