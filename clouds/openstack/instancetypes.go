package openstack

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/availabilityzones"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/flavors"

	"github.com/algos-dev/algos/clouds"
)

// flavorTTL is how long the driver reuses its list of flavors.
const flavorTTL = 5 * time.Minute

// GPUModel is what a PCI passthrough alias or vGPU type stands for.
type GPUModel struct {
	Model     string // e.g. "NVIDIA H100"
	MemoryMiB int    // per GPU; 0 when unknown
}

// DefaultGPUAliases are the alias names operators commonly give GPUs in nova.conf's
// [pci] alias (and vGPU traits, CUSTOM_<NAME>), lower case. Lookups also try the name
// without an "nvidia-"/"nvidia_"/"amd-" prefix and with "_" read as "-", so
// "nvidia-h100" and CUSTOM_NVIDIA_L4 find "h100" and "l4".
func DefaultGPUAliases() map[string]GPUModel {
	return map[string]GPUModel{
		"a100":      {"NVIDIA A100", 40960},
		"a100-40g":  {"NVIDIA A100", 40960},
		"a100-40gb": {"NVIDIA A100", 40960},
		"a100-80g":  {"NVIDIA A100", 81920},
		"a100-80gb": {"NVIDIA A100", 81920},
		"h100":      {"NVIDIA H100", 81920},
		"h200":      {"NVIDIA H200", 144384},
		"b200":      {"NVIDIA B200", 184320},
		"l40s":      {"NVIDIA L40S", 49152},
		"l40":       {"NVIDIA L40", 49152},
		"l4":        {"NVIDIA L4", 24576},
		"a40":       {"NVIDIA A40", 49152},
		"a30":       {"NVIDIA A30", 24576},
		"a10":       {"NVIDIA A10", 24576},
		"t4":        {"NVIDIA T4", 16384},
		"v100":      {"NVIDIA V100", 16384},
		"v100-32g":  {"NVIDIA V100", 32768},
		"mi300x":    {"AMD Instinct MI300X", 196608},
		"mi250x":    {"AMD Instinct MI250X", 131072},
	}
}

// flavor is a Nova flavor as the driver uses it.
type flavor struct {
	id, name string
	vcpus    int
	ramMiB   int
	extra    map[string]string
}

// listFlavors returns the flavors, from the cache when it is fresh and not stale.
func (d *Driver) listFlavors(ctx context.Context, stale bool) ([]flavor, error) {
	d.mu.Lock()
	cached, at := d.flavors, d.flavorsAt
	d.mu.Unlock()
	if cached != nil && !stale && time.Since(at) < flavorTTL {
		return cached, nil
	}
	// Microversion 2.61 embeds extra_specs in the list; older clouds ignore it and the
	// driver asks per flavor.
	fc := *d.compute
	fc.Microversion = "2.61"
	pages, err := flavors.ListDetail(&fc, nil).AllPages(ctx)
	if err != nil {
		return nil, d.wrap("list flavors", err)
	}
	list, err := flavors.ExtractFlavors(pages)
	if err != nil {
		return nil, d.wrap("list flavors", err)
	}
	out := make([]flavor, 0, len(list))
	for _, f := range list {
		extra := f.ExtraSpecs
		if extra == nil {
			if extra, err = flavors.ListExtraSpecs(ctx, d.compute, f.ID).Extract(); err != nil {
				return nil, d.wrap("get extra specs of flavor "+f.Name, err)
			}
		}
		out = append(out, flavor{id: f.ID, name: f.Name, vcpus: f.VCPUs, ramMiB: f.RAM, extra: extra})
	}
	d.mu.Lock()
	d.flavors, d.flavorsAt = out, time.Now()
	d.mu.Unlock()
	return out, nil
}

// flavorByRef finds a flavor by name (or ID), refreshing the cache once on a miss.
// Errors: ErrInvalid for an unknown flavor.
func (d *Driver) flavorByRef(ctx context.Context, ref string) (flavor, error) {
	if ref == "" {
		return flavor{}, &Error{Op: "find flavor", Kind: clouds.ErrInvalid, Message: "InstanceType is empty: set a flavor name"}
	}
	for _, stale := range []bool{false, true} {
		list, err := d.listFlavors(ctx, stale)
		if err != nil {
			return flavor{}, err
		}
		for _, byID := range []bool{false, true} {
			for _, f := range list {
				if (!byID && f.name == ref) || (byID && f.id == ref) {
					return f, nil
				}
			}
		}
	}
	return flavor{}, &Error{Op: "find flavor", Kind: clouds.ErrInvalid, Message: fmt.Sprintf("no flavor named %q: see InstanceTypes for this cloud's flavors", ref)}
}

// InstanceTypes returns the flavors as instance types: vCPUs and memory, GPUs from the
// extra specs (pci_passthrough:alias "a100:2" or "a100:1,t4:1", resources:VGPU with the
// model of a required CUSTOM_* trait), arch (arm64 for trait:HW_ARCH_AARCH64 or
// capabilities:cpu_arch aarch64), the price of Config.PricePerHour, and one on-demand
// offering per Nova availability zone (Available as the zone is). PCI aliases that are
// not in Config.GPUAliases are not GPUs (aliases also name NICs and FPGAs). Flavors are
// cached for five minutes.
func (d *Driver) InstanceTypes(ctx context.Context) ([]clouds.InstanceType, error) {
	list, err := d.listFlavors(ctx, false)
	if err != nil {
		return nil, err
	}
	pages, err := availabilityzones.List(d.compute).AllPages(ctx)
	if err != nil {
		return nil, d.wrap("list availability zones", err)
	}
	zones, err := availabilityzones.ExtractAvailabilityZones(pages)
	if err != nil {
		return nil, d.wrap("list availability zones", err)
	}
	out := make([]clouds.InstanceType, 0, len(list))
	for _, f := range list {
		price := d.cfg.PricePerHour[f.name]
		it := clouds.InstanceType{Name: f.name, Arch: arch(f.extra), VCPU: f.vcpus, MemoryMiB: f.ramMiB,
			GPUs: gpus(f.extra, d.cfg.GPUAliases), PricePerHour: price}
		for _, z := range zones {
			it.Offerings = append(it.Offerings, clouds.Offering{Zone: z.ZoneName, Available: z.ZoneState.Available, PricePerHour: price})
		}
		out = append(out, it)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// arch reads a flavor's CPU architecture from its extra specs ("amd64" unless required
// otherwise).
func arch(extra map[string]string) string {
	switch {
	case extra["trait:HW_ARCH_AARCH64"] == "required",
		extra["capabilities:cpu_arch"] == "aarch64", extra["capabilities:cpu_arch"] == "arm64":
		return "arm64"
	}
	return "amd64"
}

// gpus reads a flavor's GPUs from its extra specs; see InstanceTypes.
func gpus(extra map[string]string, table map[string]GPUModel) []clouds.GPU {
	var out []clouds.GPU
	add := func(m GPUModel, n int) {
		for i := range out {
			if out[i].Model == m.Model && out[i].MemoryMiB == m.MemoryMiB {
				out[i].Count += n
				return
			}
		}
		out = append(out, clouds.GPU{Model: m.Model, Count: n, MemoryMiB: m.MemoryMiB})
	}
	for _, part := range strings.Split(extra["pci_passthrough:alias"], ",") {
		name, count, hasCount := strings.Cut(strings.TrimSpace(part), ":")
		n := 1
		if hasCount {
			var err error
			if n, err = strconv.Atoi(strings.TrimSpace(count)); err != nil || n < 1 {
				continue
			}
		}
		if m, ok := lookupGPU(table, name); ok {
			add(m, n)
		}
	}
	if v := extra["resources:VGPU"]; v != "" {
		if n, err := strconv.Atoi(v); err == nil && n > 0 {
			m, found := table["vgpu"]
			if !found {
				m = GPUModel{Model: "vGPU"}
			}
			var traits []string
			for k, val := range extra {
				if t, ok := strings.CutPrefix(k, "trait:CUSTOM_"); ok && val == "required" {
					traits = append(traits, t)
				}
			}
			sort.Strings(traits)
			for _, t := range traits {
				if tm, ok := lookupGPU(table, t); ok {
					m = tm
					break
				}
			}
			add(m, n)
		}
	}
	return out
}

// lookupGPU finds an alias in table, also without a vendor prefix and with "_" as "-".
func lookupGPU(table map[string]GPUModel, alias string) (GPUModel, bool) {
	key := strings.ToLower(strings.TrimSpace(alias))
	if key == "" {
		return GPUModel{}, false
	}
	candidates := []string{key, strings.ReplaceAll(key, "_", "-")}
	for _, c := range candidates[:2] {
		for _, p := range []string{"nvidia-", "nvidia_", "amd-", "amd_"} {
			if s, ok := strings.CutPrefix(c, p); ok {
				candidates = append(candidates, s)
			}
		}
	}
	for _, c := range candidates {
		if m, ok := table[c]; ok {
			return m, true
		}
	}
	return GPUModel{}, false
}
