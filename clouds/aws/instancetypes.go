package aws

import (
	"context"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/algos-dev/algos/clouds"
)

// catalogTTL is how long InstanceTypes reuses the offerings it fetched.
const catalogTTL = 10 * time.Minute

// PricesAsOf dates the on-demand prices of Catalog: us-east-1 Linux list prices, after the
// June 2025 P4/P5 price cut. Prices elsewhere and later differ; the catalog is a guide for
// choosing, not a bill.
const PricesAsOf = "2025-06"

const gib = 1024 // MiB

var (
	a100_40 = clouds.GPU{Model: "NVIDIA A100", MemoryMiB: 40 * gib}
	a100_80 = clouds.GPU{Model: "NVIDIA A100", MemoryMiB: 80 * gib}
	h100    = clouds.GPU{Model: "NVIDIA H100", MemoryMiB: 80 * gib}
	a10g    = clouds.GPU{Model: "NVIDIA A10G", MemoryMiB: 24 * gib}
	l4      = clouds.GPU{Model: "NVIDIA L4", MemoryMiB: 24 * gib}
)

func gpus(g clouds.GPU, n int) []clouds.GPU {
	g.Count = n
	return []clouds.GPU{g}
}

// catalog is the table behind Catalog: the GPU families users pick and a few CPU types.
var catalog = []clouds.InstanceType{
	{Name: "p4d.24xlarge", VCPU: 96, MemoryMiB: 1152 * gib, GPUs: gpus(a100_40, 8), PricePerHour: 21.96},
	{Name: "p4de.24xlarge", VCPU: 96, MemoryMiB: 1152 * gib, GPUs: gpus(a100_80, 8), PricePerHour: 27.45},
	{Name: "p5.48xlarge", VCPU: 192, MemoryMiB: 2048 * gib, GPUs: gpus(h100, 8), PricePerHour: 55.04},
	{Name: "g5.xlarge", VCPU: 4, MemoryMiB: 16 * gib, GPUs: gpus(a10g, 1), PricePerHour: 1.006},
	{Name: "g5.2xlarge", VCPU: 8, MemoryMiB: 32 * gib, GPUs: gpus(a10g, 1), PricePerHour: 1.212},
	{Name: "g5.4xlarge", VCPU: 16, MemoryMiB: 64 * gib, GPUs: gpus(a10g, 1), PricePerHour: 1.624},
	{Name: "g5.8xlarge", VCPU: 32, MemoryMiB: 128 * gib, GPUs: gpus(a10g, 1), PricePerHour: 2.448},
	{Name: "g5.12xlarge", VCPU: 48, MemoryMiB: 192 * gib, GPUs: gpus(a10g, 4), PricePerHour: 5.672},
	{Name: "g5.16xlarge", VCPU: 64, MemoryMiB: 256 * gib, GPUs: gpus(a10g, 1), PricePerHour: 4.096},
	{Name: "g5.24xlarge", VCPU: 96, MemoryMiB: 384 * gib, GPUs: gpus(a10g, 4), PricePerHour: 8.144},
	{Name: "g5.48xlarge", VCPU: 192, MemoryMiB: 768 * gib, GPUs: gpus(a10g, 8), PricePerHour: 16.288},
	{Name: "g6.xlarge", VCPU: 4, MemoryMiB: 16 * gib, GPUs: gpus(l4, 1), PricePerHour: 0.8048},
	{Name: "g6.2xlarge", VCPU: 8, MemoryMiB: 32 * gib, GPUs: gpus(l4, 1), PricePerHour: 0.9776},
	{Name: "g6.4xlarge", VCPU: 16, MemoryMiB: 64 * gib, GPUs: gpus(l4, 1), PricePerHour: 1.3232},
	{Name: "g6.8xlarge", VCPU: 32, MemoryMiB: 128 * gib, GPUs: gpus(l4, 1), PricePerHour: 2.0144},
	{Name: "g6.12xlarge", VCPU: 48, MemoryMiB: 192 * gib, GPUs: gpus(l4, 4), PricePerHour: 4.6016},
	{Name: "g6.16xlarge", VCPU: 64, MemoryMiB: 256 * gib, GPUs: gpus(l4, 1), PricePerHour: 3.3968},
	{Name: "g6.24xlarge", VCPU: 96, MemoryMiB: 384 * gib, GPUs: gpus(l4, 4), PricePerHour: 6.6752},
	{Name: "g6.48xlarge", VCPU: 192, MemoryMiB: 768 * gib, GPUs: gpus(l4, 8), PricePerHour: 13.3504},
	{Name: "m7i.large", VCPU: 2, MemoryMiB: 8 * gib, PricePerHour: 0.1008},
	{Name: "m7i.xlarge", VCPU: 4, MemoryMiB: 16 * gib, PricePerHour: 0.2016},
	{Name: "m7i.2xlarge", VCPU: 8, MemoryMiB: 32 * gib, PricePerHour: 0.4032},
	{Name: "m7i.4xlarge", VCPU: 16, MemoryMiB: 64 * gib, PricePerHour: 0.8064},
	{Name: "c7i.large", VCPU: 2, MemoryMiB: 4 * gib, PricePerHour: 0.08925},
	{Name: "c7i.xlarge", VCPU: 4, MemoryMiB: 8 * gib, PricePerHour: 0.1785},
	{Name: "c7i.2xlarge", VCPU: 8, MemoryMiB: 16 * gib, PricePerHour: 0.357},
	{Name: "c7i.4xlarge", VCPU: 16, MemoryMiB: 32 * gib, PricePerHour: 0.714},
}

// Catalog returns the instance types the driver knows, without offerings: vCPUs, memory,
// GPUs (model, count, memory per GPU), architecture and on-demand price (see PricesAsOf).
// It makes no call. The result is a fresh copy.
func Catalog() []clouds.InstanceType {
	out := make([]clouds.InstanceType, len(catalog))
	for i, t := range catalog {
		t.Arch = "amd64"
		t.GPUs = slices.Clone(t.GPUs)
		out[i] = t
	}
	return out
}

// InstanceTypes returns Catalog with the region's offerings: an on-demand offering per zone
// where DescribeInstanceTypeOfferings (location type availability-zone) lists the type, at
// the catalog price, and a spot offering per zone where DescribeSpotPriceHistory has a
// current Linux/UNIX price, at that price. Types not offered in the region have no
// offerings. The result is cached for ten minutes; callers must not modify it.
func (d *Driver) InstanceTypes(ctx context.Context) ([]clouds.InstanceType, error) {
	const op = "instance types"
	if err := canceled(ctx, op); err != nil {
		return nil, err
	}
	d.mu.Lock()
	if d.catalog != nil && time.Since(d.catalogAt) < catalogTTL {
		defer d.mu.Unlock()
		return d.catalog, nil
	}
	d.mu.Unlock()

	types := Catalog()
	names := make([]string, len(types))
	for i, t := range types {
		names[i] = t.Name
	}
	zones := map[string][]string{}
	p := ec2.NewDescribeInstanceTypeOfferingsPaginator(d.ec2, &ec2.DescribeInstanceTypeOfferingsInput{
		LocationType: ec2types.LocationTypeAvailabilityZone,
		Filters:      []ec2types.Filter{{Name: aws.String("instance-type"), Values: names}},
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, d.wrap(ctx, op+": offerings", err, target{})
		}
		for _, o := range page.InstanceTypeOfferings {
			t := string(o.InstanceType)
			zones[t] = append(zones[t], aws.ToString(o.Location))
		}
	}
	spot := map[string]map[string]float64{} // type → zone → latest price
	latest := map[[2]string]time.Time{}
	sp := ec2.NewDescribeSpotPriceHistoryPaginator(d.ec2, &ec2.DescribeSpotPriceHistoryInput{
		InstanceTypes:       toEC2Types(names),
		ProductDescriptions: []string{"Linux/UNIX"},
		StartTime:           aws.Time(time.Now()),
	})
	for sp.HasMorePages() {
		page, err := sp.NextPage(ctx)
		if err != nil {
			return nil, d.wrap(ctx, op+": spot prices", err, target{})
		}
		for _, s := range page.SpotPriceHistory {
			t, z := string(s.InstanceType), aws.ToString(s.AvailabilityZone)
			price, err := strconv.ParseFloat(aws.ToString(s.SpotPrice), 64)
			key, at := [2]string{t, z}, aws.ToTime(s.Timestamp)
			if prev, seen := latest[key]; err != nil || (seen && !at.After(prev)) {
				continue
			}
			latest[key] = at
			if spot[t] == nil {
				spot[t] = map[string]float64{}
			}
			spot[t][z] = price
		}
	}
	for i := range types {
		t := &types[i]
		zs := slices.Sorted(slices.Values(zones[t.Name]))
		for _, z := range zs {
			t.Offerings = append(t.Offerings, clouds.Offering{Zone: z, Available: true, PricePerHour: t.PricePerHour})
		}
		for z, price := range spot[t.Name] {
			t.Offerings = append(t.Offerings, clouds.Offering{Zone: z, Spot: true, Available: true, PricePerHour: price})
		}
		sort.SliceStable(t.Offerings, func(a, b int) bool {
			oa, ob := t.Offerings[a], t.Offerings[b]
			if oa.Zone != ob.Zone {
				return oa.Zone < ob.Zone
			}
			return !oa.Spot && ob.Spot
		})
	}
	d.mu.Lock()
	d.catalog, d.catalogAt = types, time.Now()
	d.mu.Unlock()
	return types, nil
}

func toEC2Types(names []string) []ec2types.InstanceType {
	out := make([]ec2types.InstanceType, len(names))
	for i, n := range names {
		out[i] = ec2types.InstanceType(n)
	}
	return out
}
