package scheduler

import "strings"

// InstanceType is what one node of a pool has and costs. It mirrors clouds.InstanceType,
// reduced to what the choice needs (a pool has one GPU model).
type InstanceType struct {
	Name         string
	VCPU         float64
	MemoryMiB    int
	GPUModel     string
	GPUs         int
	GPUMemMiB    int     // per GPU
	PricePerHour float64 // USD
}

// HasGPUs reports whether the type has at least one GPU.
func (t InstanceType) HasGPUs() bool { return t.GPUs > 0 }

// PoolOption is a node pool that could grow: its cloud, instance type, size and maximum size.
type PoolOption struct {
	Name    string
	Cloud   string
	Type    InstanceType
	Size    int // nodes now (desired)
	MaxSize int // it may grow while Size < MaxSize
}

// Cheapest returns the pool to grow by one node for a worker of req that fits no node: the one
// whose instance type is cheapest per hour among those that fit one worker (CPU, memory, GPU
// count, model and memory) and are below their maximum size; ties go to the lower pool name.
//
// CPU-only work never grows a GPU pool while a CPU pool's type fits it, even one at its maximum
// size (a full CPU pool is reported, not worked around with GPU nodes), nor ever with
// req.NoGPUNodes. When no pool can grow, the error is a *NoPoolError saying why per pool.
func Cheapest(pools []PoolOption, req Request) (PoolOption, error) {
	reasons := make(map[string]Reason)
	cpuPoolFits := false
	for _, p := range pools {
		if typeFits(p, req) == "" && !p.Type.HasGPUs() {
			cpuPoolFits = true
		}
	}
	best := -1
	for i, p := range pools {
		r := typeFits(p, req)
		switch {
		case r != "":
		case !req.NeedsGPU() && p.Type.HasGPUs() && (cpuPoolFits || req.NoGPUNodes):
			r = ReasonGPUNode
		case p.Size >= p.MaxSize:
			r = ReasonMaxSize
		}
		if r != "" {
			reasons[p.Name] = r
			continue
		}
		if best < 0 || p.Type.PricePerHour < pools[best].Type.PricePerHour ||
			(p.Type.PricePerHour == pools[best].Type.PricePerHour && p.Name < pools[best].Name) {
			best = i
		}
	}
	if best < 0 {
		return PoolOption{}, &NoPoolError{Request: req, Pools: reasons}
	}
	return pools[best], nil
}

// typeFits says why one empty node of the pool's type cannot take one worker of req, or "".
func typeFits(p PoolOption, req Request) Reason {
	t := p.Type
	switch {
	case req.Pool != "" && p.Name != req.Pool:
		return ReasonPool
	case t.VCPU < req.CPU-eps:
		return ReasonCPU
	case t.MemoryMiB < req.MemoryMiB:
		return ReasonMemory
	case !req.NeedsGPU():
		return ""
	case req.GPUModel != "" && t.HasGPUs() && !strings.EqualFold(t.GPUModel, req.GPUModel):
		return ReasonGPUModel
	case t.GPUs < max(req.GPUs, 1):
		return ReasonGPUCount
	case t.GPUMemMiB < req.GPUMemMiB:
		return ReasonGPUMemory
	}
	return ""
}
