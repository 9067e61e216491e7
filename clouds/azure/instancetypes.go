package azure

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v8"

	"github.com/algos-dev/algos/clouds"
)

// GPU models, as clouds.GPU.Model spells them.
const (
	gpuH100 = "NVIDIA H100"
	gpuA100 = "NVIDIA A100"
	gpuT4   = "NVIDIA T4"
	gpuA10  = "NVIDIA A10"
)

// catalogEntry is one VM size: what it has and its on-demand Linux list price in eastus
// (USD per hour; other regions differ, and prices change: the Azure Retail Prices API is
// authoritative).
type catalogEntry struct {
	name   string
	vcpu   int
	memGiB int
	gpu    string
	gpus   int
	gpuGiB int
	price  float64
	noSpot bool // Azure Spot does not offer the size
}

// catalog is capacity as data: the sizes algos offers on Azure. Fractional-GPU sizes
// (NV6ads_A10_v5 … NV18ads_A10_v5: 1/6 to 1/2 of an A10) are left out: clouds.GPU counts
// whole GPUs.
var catalog = []catalogEntry{
	// General purpose and memory optimized, Intel, v5.
	{name: "Standard_D2s_v5", vcpu: 2, memGiB: 8, price: 0.096},
	{name: "Standard_D4s_v5", vcpu: 4, memGiB: 16, price: 0.192},
	{name: "Standard_D8s_v5", vcpu: 8, memGiB: 32, price: 0.384},
	{name: "Standard_D16s_v5", vcpu: 16, memGiB: 64, price: 0.768},
	{name: "Standard_D32s_v5", vcpu: 32, memGiB: 128, price: 1.536},
	{name: "Standard_D48s_v5", vcpu: 48, memGiB: 192, price: 2.304},
	{name: "Standard_D64s_v5", vcpu: 64, memGiB: 256, price: 3.072},
	{name: "Standard_D96s_v5", vcpu: 96, memGiB: 384, price: 4.608},
	{name: "Standard_E2s_v5", vcpu: 2, memGiB: 16, price: 0.126},
	{name: "Standard_E4s_v5", vcpu: 4, memGiB: 32, price: 0.252},
	{name: "Standard_E8s_v5", vcpu: 8, memGiB: 64, price: 0.504},
	{name: "Standard_E16s_v5", vcpu: 16, memGiB: 128, price: 1.008},
	{name: "Standard_E32s_v5", vcpu: 32, memGiB: 256, price: 2.016},
	{name: "Standard_E64s_v5", vcpu: 64, memGiB: 512, price: 4.032},
	{name: "Standard_E96s_v5", vcpu: 96, memGiB: 672, price: 6.048},
	// NC A100 v4: A100 PCIe 80 GB.
	{name: "Standard_NC24ads_A100_v4", vcpu: 24, memGiB: 220, gpu: gpuA100, gpus: 1, gpuGiB: 80, price: 3.673},
	{name: "Standard_NC48ads_A100_v4", vcpu: 48, memGiB: 440, gpu: gpuA100, gpus: 2, gpuGiB: 80, price: 7.346},
	{name: "Standard_NC96ads_A100_v4", vcpu: 96, memGiB: 880, gpu: gpuA100, gpus: 4, gpuGiB: 80, price: 14.692},
	// ND A100 v4 and ND H100 v5: 8 SXM GPUs with NVLink and InfiniBand.
	{name: "Standard_ND96asr_v4", vcpu: 96, memGiB: 900, gpu: gpuA100, gpus: 8, gpuGiB: 40, price: 27.197},
	{name: "Standard_ND96amsr_A100_v4", vcpu: 96, memGiB: 1900, gpu: gpuA100, gpus: 8, gpuGiB: 80, price: 32.77},
	{name: "Standard_ND96isr_H100_v5", vcpu: 96, memGiB: 1900, gpu: gpuH100, gpus: 8, gpuGiB: 80, price: 98.32},
	// NCasT4_v3: T4 16 GB.
	{name: "Standard_NC4as_T4_v3", vcpu: 4, memGiB: 28, gpu: gpuT4, gpus: 1, gpuGiB: 16, price: 0.526},
	{name: "Standard_NC8as_T4_v3", vcpu: 8, memGiB: 56, gpu: gpuT4, gpus: 1, gpuGiB: 16, price: 0.752},
	{name: "Standard_NC16as_T4_v3", vcpu: 16, memGiB: 110, gpu: gpuT4, gpus: 1, gpuGiB: 16, price: 1.204},
	{name: "Standard_NC64as_T4_v3", vcpu: 64, memGiB: 440, gpu: gpuT4, gpus: 4, gpuGiB: 16, price: 4.352},
	// NVadsA10 v5, whole GPUs: A10 24 GB.
	{name: "Standard_NV36ads_A10_v5", vcpu: 36, memGiB: 440, gpu: gpuA10, gpus: 1, gpuGiB: 24, price: 3.20},
	{name: "Standard_NV36adms_A10_v5", vcpu: 36, memGiB: 880, gpu: gpuA10, gpus: 1, gpuGiB: 24, price: 4.52},
	{name: "Standard_NV72ads_A10_v5", vcpu: 72, memGiB: 880, gpu: gpuA10, gpus: 2, gpuGiB: 24, price: 6.52},
}

func (e catalogEntry) instanceType() clouds.InstanceType {
	t := clouds.InstanceType{Name: e.name, Arch: "amd64", VCPU: e.vcpu, MemoryMiB: e.memGiB * 1024, PricePerHour: e.price}
	if e.gpus > 0 {
		t.GPUs = []clouds.GPU{{Model: e.gpu, Count: e.gpus, MemoryMiB: e.gpuGiB * 1024}}
	}
	return t
}

// Catalog returns the sizes the driver knows, without offerings (no request is made). The
// result is the caller's to change.
func Catalog() []clouds.InstanceType {
	out := make([]clouds.InstanceType, 0, len(catalog))
	for _, e := range catalog {
		out = append(out, e.instanceType())
	}
	return out
}

// InstanceTypes returns the catalog's sizes with their offerings in Config.Location: per
// zone, on demand and (where Azure Spot offers the size) spot, available unless a
// ResourceSKUs restriction says the size is not offered to this subscription there. A size
// ResourceSKUs does not list for the region has no offerings. When ResourceSKUs cannot be
// read (permissions), every size is offered in Config.Zones (or the region) as the table
// says, and a warning is logged. Spot offerings carry the on-demand price: it is what the
// driver bids (max price -1); Azure's spot price is lower and moves. Results are cached for
// Config.CatalogTTL.
func (d *Driver) InstanceTypes(ctx context.Context) ([]clouds.InstanceType, error) {
	d.catalogMu.Lock()
	defer d.catalogMu.Unlock()
	if d.catalog != nil && time.Since(d.catalogAt) < d.cfg.CatalogTTL {
		return cloneTypes(d.catalog), nil
	}
	skus, err := d.listSKUs(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil, d.mapError(err, "list resource SKUs", nil)
		}
		d.log.Warn("resource SKUs unavailable: offerings from the catalog", "error", d.mapError(err, "list resource SKUs", nil))
		skus = nil
	}
	var types []clouds.InstanceType
	for _, e := range catalog {
		t := e.instanceType()
		if skus == nil {
			t.Offerings = d.tableOfferings(e)
		} else if sku, ok := skus[strings.ToLower(e.name)]; ok {
			t.Offerings = d.skuOfferings(e, sku)
		}
		types = append(types, t)
	}
	if skus != nil {
		d.catalog, d.catalogAt = types, time.Now()
	}
	return cloneTypes(types), nil
}

func (d *Driver) listSKUs(ctx context.Context) (map[string]*armcompute.ResourceSKU, error) {
	filter := fmt.Sprintf("location eq '%s'", d.cfg.Location)
	m := map[string]*armcompute.ResourceSKU{}
	pager := d.skus.NewListPager(&armcompute.ResourceSKUsClientListOptions{Filter: &filter})
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, s := range page.Value {
			if s == nil || !strings.EqualFold(deref(s.ResourceType), "virtualMachines") || !d.skuInLocation(s) {
				continue
			}
			m[strings.ToLower(deref(s.Name))] = s
		}
	}
	return m, nil
}

func (d *Driver) skuInLocation(s *armcompute.ResourceSKU) bool {
	return slices.ContainsFunc(s.Locations, func(l *string) bool { return strings.EqualFold(deref(l), d.cfg.Location) })
}

func (d *Driver) tableOfferings(e catalogEntry) []clouds.Offering {
	zones := d.cfg.Zones
	if len(zones) == 0 {
		zones = []string{d.cfg.Location}
	}
	return offerings(zones, nil, !e.noSpot, e.price)
}

func (d *Driver) skuOfferings(e catalogEntry, s *armcompute.ResourceSKU) []clouds.Offering {
	var zones []string
	for _, li := range s.LocationInfo {
		if li != nil && strings.EqualFold(deref(li.Location), d.cfg.Location) {
			for _, z := range li.Zones {
				zones = append(zones, deref(z))
			}
		}
	}
	slices.Sort(zones)
	if len(zones) == 0 {
		zones = []string{d.cfg.Location}
	}
	restricted := map[string]bool{}
	for _, r := range s.Restrictions {
		if r == nil || r.Type == nil {
			continue
		}
		switch *r.Type {
		case armcompute.ResourceSKURestrictionsTypeLocation:
			for _, z := range zones {
				restricted[z] = true
			}
		case armcompute.ResourceSKURestrictionsTypeZone:
			if r.RestrictionInfo != nil {
				for _, z := range r.RestrictionInfo.Zones {
					restricted[deref(z)] = true
				}
			}
		}
	}
	spot := !e.noSpot
	for _, c := range s.Capabilities {
		if c != nil && strings.EqualFold(deref(c.Name), "LowPriorityCapable") {
			spot = strings.EqualFold(deref(c.Value), "True")
		}
	}
	return offerings(zones, restricted, spot, e.price)
}

func offerings(zones []string, restricted map[string]bool, spot bool, price float64) []clouds.Offering {
	var out []clouds.Offering
	for _, z := range zones {
		out = append(out, clouds.Offering{Zone: z, Available: !restricted[z], PricePerHour: price})
	}
	if spot {
		for _, z := range zones {
			out = append(out, clouds.Offering{Zone: z, Spot: true, Available: !restricted[z], PricePerHour: price})
		}
	}
	return out
}

func cloneTypes(ts []clouds.InstanceType) []clouds.InstanceType {
	out := make([]clouds.InstanceType, len(ts))
	for i, t := range ts {
		t.GPUs = slices.Clone(t.GPUs)
		t.Offerings = slices.Clone(t.Offerings)
		out[i] = t
	}
	return out
}
