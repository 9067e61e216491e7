package gcp

import (
	"slices"
	"strings"

	"github.com/algos-dev/algos/clouds"
)

// gpuModel is what the driver knows of a GCE accelerator type.
type gpuModel struct {
	model  string // clouds.GPU.Model
	memMiB int    // per GPU
}

// accelerators maps GCE accelerator types to GPU models. Both A100 types are "NVIDIA A100"
// (memory tells them apart), as are both H100 types.
var accelerators = map[string]gpuModel{
	"nvidia-tesla-t4":       {"NVIDIA T4", 16 << 10},
	"nvidia-tesla-p4":       {"NVIDIA P4", 8 << 10},
	"nvidia-tesla-v100":     {"NVIDIA V100", 16 << 10},
	"nvidia-tesla-p100":     {"NVIDIA P100", 16 << 10},
	"nvidia-l4":             {"NVIDIA L4", 24 << 10},
	"nvidia-tesla-a100":     {"NVIDIA A100", 40 << 10},
	"nvidia-a100-80gb":      {"NVIDIA A100", 80 << 10},
	"nvidia-h100-80gb":      {"NVIDIA H100", 80 << 10},
	"nvidia-h100-mega-80gb": {"NVIDIA H100", 80 << 10},
	"nvidia-h200-141gb":     {"NVIDIA H200", 141 << 10},
}

// catalogEntry is one instance type the driver prices.
type catalogEntry struct {
	name   string
	vcpu   int
	memGiB float64
	accel  string // GCE accelerator type; "" for none
	gpus   int
	price  float64 // USD per hour, on demand, us-central1 list price
}

// catalog holds the GPU types users pick and common CPU types, with us-central1 on-demand
// list prices (machine and bundled GPUs together). Prices are list prices at the time of
// writing, not quotes; other regions differ by a few percent. N1 types with attached GPUs
// are named "<machine type>+<accelerator type>:<count>".
var catalog = []catalogEntry{
	// A2: A100 40GB (highgpu, megagpu) and A100 80GB (ultragpu), GPUs bundled.
	{"a2-highgpu-1g", 12, 85, "nvidia-tesla-a100", 1, 3.673385},
	{"a2-highgpu-2g", 24, 170, "nvidia-tesla-a100", 2, 7.34677},
	{"a2-highgpu-4g", 48, 340, "nvidia-tesla-a100", 4, 14.69354},
	{"a2-highgpu-8g", 96, 680, "nvidia-tesla-a100", 8, 29.38708},
	{"a2-megagpu-16g", 96, 1360, "nvidia-tesla-a100", 16, 55.739504},
	{"a2-ultragpu-1g", 12, 170, "nvidia-a100-80gb", 1, 5.0688},
	{"a2-ultragpu-2g", 24, 340, "nvidia-a100-80gb", 2, 10.1376},
	{"a2-ultragpu-4g", 48, 680, "nvidia-a100-80gb", 4, 20.2752},
	{"a2-ultragpu-8g", 96, 1360, "nvidia-a100-80gb", 8, 40.5504},
	// A3: 8 × H100 80GB.
	{"a3-highgpu-8g", 208, 1872, "nvidia-h100-80gb", 8, 88.2522},
	// G2: L4 24GB.
	{"g2-standard-4", 4, 16, "nvidia-l4", 1, 0.70683},
	{"g2-standard-8", 8, 32, "nvidia-l4", 1, 0.85362},
	{"g2-standard-12", 12, 48, "nvidia-l4", 1, 1.00042},
	{"g2-standard-16", 16, 64, "nvidia-l4", 1, 1.14721},
	{"g2-standard-24", 24, 96, "nvidia-l4", 2, 2.00083},
	{"g2-standard-32", 32, 128, "nvidia-l4", 1, 1.73438},
	{"g2-standard-48", 48, 192, "nvidia-l4", 4, 4.00167},
	{"g2-standard-96", 96, 384, "nvidia-l4", 8, 8.00333},
	// N1 with attached T4s.
	{"n1-standard-4+nvidia-tesla-t4:1", 4, 15, "nvidia-tesla-t4", 1, 0.539999},
	{"n1-standard-8+nvidia-tesla-t4:1", 8, 30, "nvidia-tesla-t4", 1, 0.729998},
	{"n1-standard-16+nvidia-tesla-t4:2", 16, 60, "nvidia-tesla-t4", 2, 1.459996},
	// CPU: N2 and C3 (priced per vCPU and GiB), E2 and N1.
	{"n2-standard-2", 2, 8, "", 0, 0.097118},
	{"n2-standard-4", 4, 16, "", 0, 0.194236},
	{"n2-standard-8", 8, 32, "", 0, 0.388472},
	{"n2-standard-16", 16, 64, "", 0, 0.776944},
	{"n2-standard-32", 32, 128, "", 0, 1.553888},
	{"n2-standard-64", 64, 256, "", 0, 3.107776},
	{"n2-highmem-8", 8, 64, "", 0, 0.524096},
	{"c3-standard-4", 4, 16, "", 0, 0.20872},
	{"c3-standard-8", 8, 32, "", 0, 0.41744},
	{"c3-standard-22", 22, 88, "", 0, 1.14796},
	{"c3-standard-44", 44, 176, "", 0, 2.29592},
	{"c3-standard-88", 88, 352, "", 0, 4.59184},
	{"c3-standard-176", 176, 704, "", 0, 9.18368},
	{"e2-medium", 2, 4, "", 0, 0.033503},
	{"e2-standard-2", 2, 8, "", 0, 0.067006},
	{"e2-standard-4", 4, 16, "", 0, 0.134012},
	{"n1-standard-4", 4, 15, "", 0, 0.189999},
	{"n1-standard-8", 8, 30, "", 0, 0.379998},
	{"n1-standard-16", 16, 60, "", 0, 0.759996},
}

// priceOf returns a catalog price; 0 when the type is not in the catalog.
func priceOf(name string) float64 {
	for _, e := range catalog {
		if e.name == name {
			return e.price
		}
	}
	return 0
}

// gpusOf describes count accelerators of a GCE accelerator type.
func gpusOf(accel string, count int) []clouds.GPU {
	if accel == "" || count == 0 {
		return nil
	}
	m, ok := accelerators[accel]
	if !ok {
		m = gpuModel{model: accel}
	}
	return []clouds.GPU{{Model: m.model, Count: count, MemoryMiB: m.memMiB}}
}

// Catalog returns the driver's instance type data without asking GCE: vCPUs, memory, GPUs
// and us-central1 on-demand list prices of the GPU families (a2, a3, g2, N1 with T4s) and
// common CPU types (n2, c3, e2, n1). Offerings are empty: InstanceTypes fills them from the
// zones' machine types. The result is a fresh copy.
func Catalog() []clouds.InstanceType {
	out := make([]clouds.InstanceType, 0, len(catalog))
	for _, e := range catalog {
		out = append(out, clouds.InstanceType{
			Name:         e.name,
			Arch:         "amd64",
			VCPU:         e.vcpu,
			MemoryMiB:    int(e.memGiB * 1024),
			GPUs:         gpusOf(e.accel, e.gpus),
			PricePerHour: e.price,
		})
	}
	slices.SortFunc(out, func(a, b clouds.InstanceType) int { return strings.Compare(a.Name, b.Name) })
	return out
}
