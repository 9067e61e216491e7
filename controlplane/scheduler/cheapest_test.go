package scheduler

import (
	"errors"
	"reflect"
	"testing"
)

func TestCheapest(t *testing.T) {
	t.Parallel()
	small := PoolOption{Name: "cpu-small", Cloud: "aws", Size: 1, MaxSize: 10,
		Type: InstanceType{Name: "c7i.large", VCPU: 2, MemoryMiB: 4096, PricePerHour: 0.09}}
	large := PoolOption{Name: "cpu-large", Cloud: "gcp", Size: 0, MaxSize: 10,
		Type: InstanceType{Name: "n2-standard-16", VCPU: 16, MemoryMiB: 65536, PricePerHour: 0.78}}
	l4 := PoolOption{Name: "gpu-l4", Cloud: "gcp", Size: 0, MaxSize: 4,
		Type: InstanceType{Name: "g2-standard-8", VCPU: 8, MemoryMiB: 32768, GPUModel: "L4", GPUs: 1, GPUMemMiB: 24576, PricePerHour: 0.85}}
	h100 := PoolOption{Name: "gpu-h100", Cloud: "aws", Size: 1, MaxSize: 2,
		Type: InstanceType{Name: "p5.48xlarge", VCPU: 192, MemoryMiB: 2 << 20, GPUModel: "H100", GPUs: 8, GPUMemMiB: 81920, PricePerHour: 98.32}}
	atMax := func(p PoolOption) PoolOption { p.Size = p.MaxSize; return p }
	all := []PoolOption{h100, l4, large, small}

	tests := []struct {
		name   string
		pools  []PoolOption
		req    Request
		want   string
		reason map[string]Reason // when an error is expected
	}{
		{name: "cheapest cpu pool that fits", pools: all, req: Request{CPU: 1, MemoryMiB: 1024}, want: "cpu-small"},
		{name: "larger cpu pool when the small type is too small", pools: all, req: Request{CPU: 4, MemoryMiB: 8192}, want: "cpu-large"},
		{name: "cpu work never grows a gpu pool while a cpu pool fits", pools: []PoolOption{l4, large},
			req: Request{CPU: 8, MemoryMiB: 1024}, want: "cpu-large"},
		{name: "cpu work on a gpu pool when no cpu type fits", pools: []PoolOption{h100, large},
			req: Request{CPU: 64, MemoryMiB: 1024}, want: "gpu-h100"},
		{name: "gpu share on the cheapest card with enough memory", pools: all,
			req: Request{CPU: 1, MemoryMiB: 1024, GPUMemMiB: 16384}, want: "gpu-l4"},
		{name: "gpu memory rules out the small card", pools: all,
			req: Request{CPU: 1, MemoryMiB: 1024, GPUMemMiB: 40960}, want: "gpu-h100"},
		{name: "gpu model", pools: all, req: Request{GPUs: 1, GPUModel: "h100"}, want: "gpu-h100"},
		{name: "gpu count", pools: all, req: Request{GPUs: 4}, want: "gpu-h100"},
		{name: "pool at max skipped", pools: []PoolOption{atMax(small), large}, req: Request{CPU: 1}, want: "cpu-large"},
		{name: "pool restriction", pools: all, req: Request{CPU: 1, Pool: "cpu-large"}, want: "cpu-large"},
		{name: "price tie broken by name", pools: []PoolOption{
			{Name: "b", Size: 0, MaxSize: 1, Type: InstanceType{VCPU: 2, MemoryMiB: 2048, PricePerHour: 1}},
			{Name: "a", Size: 0, MaxSize: 1, Type: InstanceType{VCPU: 2, MemoryMiB: 2048, PricePerHour: 1}}},
			req: Request{CPU: 1}, want: "a"},
		{name: "full cpu pool is not replaced by a gpu pool", pools: []PoolOption{atMax(small), l4},
			req: Request{CPU: 1}, reason: map[string]Reason{"cpu-small": ReasonMaxSize, "gpu-l4": ReasonGPUNode}},
		{name: "gpu pools forbidden for cpu work", pools: []PoolOption{h100},
			req: Request{CPU: 64, NoGPUNodes: true}, reason: map[string]Reason{"gpu-h100": ReasonGPUNode}},
		{name: "nothing fits", pools: all, req: Request{CPU: 1, GPUs: 1, GPUMemMiB: 1 << 20},
			reason: map[string]Reason{"gpu-h100": ReasonGPUMemory, "gpu-l4": ReasonGPUMemory,
				"cpu-large": ReasonGPUCount, "cpu-small": ReasonGPUCount}},
		{name: "gpu pool at max", pools: []PoolOption{atMax(h100), small}, req: Request{GPUs: 8},
			reason: map[string]Reason{"gpu-h100": ReasonMaxSize, "cpu-small": ReasonGPUCount}},
		{name: "no pools", pools: nil, req: Request{CPU: 1}, reason: map[string]Reason{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Cheapest(tt.pools, tt.req)
			if tt.reason == nil {
				if err != nil || got.Name != tt.want {
					t.Fatalf("Cheapest = %q, %v; want %q", got.Name, err, tt.want)
				}
				return
			}
			var ne *NoPoolError
			if !errors.As(err, &ne) {
				t.Fatalf("Cheapest = %q, %v; want *NoPoolError", got.Name, err)
			}
			if !reflect.DeepEqual(ne.Pools, tt.reason) {
				t.Errorf("reasons = %v, want %v", ne.Pools, tt.reason)
			}
			if ne.Error() == "" {
				t.Error("empty message")
			}
		})
	}
}
