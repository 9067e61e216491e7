package gcp

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/api/iterator"

	"github.com/algos-dev/algos/clouds"
)

// offered is a machine type as the zones list it.
type offered struct {
	mt    *computepb.MachineType
	zones []string
}

// InstanceTypes returns every machine type offered in the driver's zones (machineTypes.list
// per zone, which is far smaller than the project-wide aggregated list; deprecated types
// left out), with vCPUs, memory, GPUs and architecture from GCE, and the catalog's N1+GPU
// combinations offered where both the machine type and the accelerator type
// (acceleratorTypes.list per zone) are. Each zone
// that offers a type gives two offerings: on demand at the catalog's us-central1 list price
// (0 for types the catalog does not price), and spot, whose PricePerHour is 0 = not known
// to the driver (GCE spot prices move; the Cloud Billing Catalog API has them). The answer
// is cached for Config.CatalogTTL and shared: callers must not modify it.
func (d *Driver) InstanceTypes(ctx context.Context) ([]clouds.InstanceType, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("gcp: instance types: %w", err)
	}
	d.mu.Lock()
	cached, at := d.catalog, d.catalogTime
	d.mu.Unlock()
	if cached != nil && time.Since(at) < d.cfg.CatalogTTL {
		return cached, nil
	}
	zones, err := d.zones(ctx)
	if err != nil {
		return nil, fmt.Errorf("gcp: instance types: %w", err)
	}
	types := make(map[string]*offered)
	for _, zone := range zones {
		var mts []*computepb.MachineType
		err := d.retry(ctx, func(ctx context.Context) error {
			mts = mts[:0]
			it := d.machineTypes.List(ctx, &computepb.ListMachineTypesRequest{Project: d.cfg.Project, Zone: zone})
			for {
				mt, err := it.Next()
				if err == iterator.Done {
					return nil
				}
				if err != nil {
					return err
				}
				mts = append(mts, mt)
			}
		})
		if err != nil {
			return nil, fmt.Errorf("gcp: machine types of %s: %w", zone, mapError(err, errCtx{zone: zone}))
		}
		for _, mt := range mts {
			if s := mt.GetDeprecated().GetState(); s != "" && s != "ACTIVE" {
				continue
			}
			o := types[mt.GetName()]
			if o == nil {
				o = &offered{mt: mt}
				types[mt.GetName()] = o
			}
			o.zones = append(o.zones, zone)
		}
	}
	accelZones, err := d.acceleratorZones(ctx, zones)
	if err != nil {
		return nil, err
	}
	var out []clouds.InstanceType
	for name, o := range types {
		t := clouds.InstanceType{
			Name:         name,
			Arch:         "amd64",
			VCPU:         int(o.mt.GetGuestCpus()),
			MemoryMiB:    int(o.mt.GetMemoryMb()),
			PricePerHour: priceOf(name),
			Offerings:    offerings(o.zones, priceOf(name)),
		}
		if strings.EqualFold(o.mt.GetArchitecture(), "ARM64") {
			t.Arch = "arm64"
		}
		for _, a := range o.mt.GetAccelerators() {
			t.GPUs = append(t.GPUs, gpusOf(a.GetGuestAcceleratorType(), int(a.GetGuestAcceleratorCount()))...)
		}
		out = append(out, t)
	}
	for _, e := range catalog {
		base, accel, ok := strings.Cut(e.name, "+")
		if !ok || types[base] == nil {
			continue
		}
		accel, _, _ = strings.Cut(accel, ":")
		var zs []string
		for _, z := range types[base].zones {
			if slices.Contains(accelZones[accel], z) {
				zs = append(zs, z)
			}
		}
		if len(zs) == 0 {
			continue
		}
		mt := types[base].mt
		out = append(out, clouds.InstanceType{
			Name:         e.name,
			Arch:         "amd64",
			VCPU:         int(mt.GetGuestCpus()),
			MemoryMiB:    int(mt.GetMemoryMb()),
			GPUs:         gpusOf(e.accel, e.gpus),
			PricePerHour: e.price,
			Offerings:    offerings(zs, e.price),
		})
	}
	slices.SortFunc(out, func(a, b clouds.InstanceType) int { return strings.Compare(a.Name, b.Name) })
	d.mu.Lock()
	d.catalog, d.catalogTime = out, time.Now()
	d.mu.Unlock()
	return out, nil
}

// acceleratorZones lists, per accelerator type, the zones that offer it.
func (d *Driver) acceleratorZones(ctx context.Context, zones []string) (map[string][]string, error) {
	out := make(map[string][]string)
	for _, zone := range zones {
		var names []string
		err := d.retry(ctx, func(ctx context.Context) error {
			names = names[:0]
			it := d.accelerators.List(ctx, &computepb.ListAcceleratorTypesRequest{Project: d.cfg.Project, Zone: zone})
			for {
				at, err := it.Next()
				if err == iterator.Done {
					return nil
				}
				if err != nil {
					return err
				}
				names = append(names, at.GetName())
			}
		})
		if err != nil {
			return nil, fmt.Errorf("gcp: accelerator types of %s: %w", zone, mapError(err, errCtx{zone: zone}))
		}
		for _, n := range names {
			out[n] = append(out[n], zone)
		}
	}
	return out, nil
}

// offerings is on demand at price and spot (price unknown: 0) in each zone, sorted.
func offerings(zones []string, price float64) []clouds.Offering {
	zones = slices.Sorted(slices.Values(zones))
	out := make([]clouds.Offering, 0, 2*len(zones))
	for _, z := range zones {
		out = append(out,
			clouds.Offering{Zone: z, Available: true, PricePerHour: price},
			clouds.Offering{Zone: z, Spot: true, Available: true})
	}
	return out
}
