package gcp

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	compute "cloud.google.com/go/compute/apiv1"
	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/api/iterator"

	"github.com/algos-dev/algos/clouds"
)

// instanceState normalizes GCE's instance status:
//
//	PROVISIONING, STAGING, REPAIRING → pending
//	RUNNING                          → running
//	STOPPING, SUSPENDING             → stopping
//	TERMINATED, STOPPED, SUSPENDED   → terminated (the driver never restarts them)
//
// An unknown status is pending: not yet known to run, not known to be gone.
func instanceState(status string) clouds.InstanceState {
	switch status {
	case "RUNNING":
		return clouds.StateRunning
	case "STOPPING", "SUSPENDING":
		return clouds.StateStopping
	case "TERMINATED", "STOPPED", "SUSPENDED":
		return clouds.StateTerminated
	}
	return clouds.StatePending
}

// machine is an InstanceSpec.InstanceType taken apart: a machine type, and for N1 types
// attached GPUs ("n1-standard-8+nvidia-tesla-t4:1").
type machine struct {
	name       string // as the caller wrote it (the default when empty)
	typ        string // GCE machine type
	accel      string // accelerator type attached with guestAccelerators; "" for none
	accelCount int32
}

// parseMachine reads an instance type. Errors wrap ErrInvalid.
func parseMachine(s string) (machine, error) {
	if s == "" {
		s = DefaultInstanceType
	}
	m := machine{name: s, typ: s}
	if base, acc, ok := strings.Cut(s, "+"); ok {
		name, count, _ := strings.Cut(acc, ":")
		n, err := strconv.Atoi(count)
		if err != nil || n < 1 || n > 16 || !validName(name) {
			return machine{}, fmt.Errorf("gcp: instance type %q: want machine-type+accelerator-type:count, such as n1-standard-8+nvidia-tesla-t4:1: %w", s, clouds.ErrInvalid)
		}
		m.typ, m.accel, m.accelCount = base, name, int32(n)
	}
	if !validName(m.typ) {
		return machine{}, fmt.Errorf("gcp: instance type %q is not a GCE machine type name: %w", s, clouds.ErrInvalid)
	}
	return m, nil
}

// gpus reports whether the machine has GPUs: bundled (accelerator-optimized families) or
// attached. GCE cannot live-migrate them, so they need onHostMaintenance TERMINATE.
func (m machine) gpus() bool {
	if m.accel != "" {
		return true
	}
	family, _, _ := strings.Cut(m.typ, "-")
	return bundledGPUFamilies[family]
}

// bundledGPUFamilies are the accelerator-optimized machine families whose types come with
// their GPUs attached.
var bundledGPUFamilies = map[string]bool{"a2": true, "a3": true, "a4": true, "a4x": true, "g2": true, "g4": true}

// machineName is the InstanceType an instance reports: its machine type, plus attached
// GPUs on N1 types (bundled GPUs are part of the type's name already).
func machineName(machineType string, accels []*computepb.AcceleratorConfig) string {
	name := lastSegment(machineType)
	if !strings.HasPrefix(name, "n1-") || len(accels) == 0 {
		return name
	}
	return fmt.Sprintf("%s+%s:%d", name, lastSegment(accels[0].GetAcceleratorType()), accels[0].GetAcceleratorCount())
}

func (m machine) scheduling(spot bool) *computepb.Scheduling {
	s := &computepb.Scheduling{}
	if m.gpus() {
		s.OnHostMaintenance = ptr("TERMINATE")
	}
	if spot {
		s.ProvisioningModel = ptr("SPOT")
		s.InstanceTerminationAction = ptr("DELETE")
		s.AutomaticRestart = ptr(false)
		s.OnHostMaintenance = ptr("TERMINATE")
	}
	return s
}

// sourceImage resolves InstanceSpec.Image: empty is DefaultImage, a path is used as is, a
// bare name is an image of the driver's project.
func (d *Driver) sourceImage(image string) string {
	switch {
	case image == "":
		return DefaultImage
	case strings.Contains(image, "/"):
		return image
	}
	return "projects/" + d.cfg.Project + "/global/images/" + image
}

// attachedDisks is the boot disk and the extra disks of spec. zone is "" for a regional
// template (disk types by name, disks named by GCE) and the instance's zone otherwise.
func (d *Driver) attachedDisks(spec clouds.InstanceSpec, zone, instance string, labels map[string]string) ([]*computepb.AttachedDisk, error) {
	disks := []*computepb.AttachedDisk{{
		Boot:       ptr(true),
		AutoDelete: ptr(true),
		Type:       ptr("PERSISTENT"),
		InitializeParams: &computepb.AttachedDiskInitializeParams{
			SourceImage: ptr(d.sourceImage(spec.Image)),
			Labels:      labels,
		},
	}}
	for i, ds := range spec.Disks {
		if ds.SizeGiB <= 0 {
			return nil, fmt.Errorf("gcp: disk %d of instance: size %d GiB: %w", i, ds.SizeGiB, clouds.ErrInvalid)
		}
		dl, err := labelsFor(ds.Tags, nil)
		if err != nil {
			return nil, err
		}
		typ := ds.Type
		if typ == "" {
			typ = DefaultDiskType
		}
		device := fmt.Sprintf("disk-%d", i+1)
		if validName(ds.Name) {
			device = ds.Name
		}
		params := &computepb.AttachedDiskInitializeParams{
			DiskSizeGb: ptr(int64(ds.SizeGiB)),
			DiskType:   ptr(typ),
			Labels:     dl,
		}
		if zone != "" {
			params.DiskType = ptr(d.zonePath(zone) + "/diskTypes/" + typ)
			params.DiskName = ptr(instance + "-" + device)
			if !validName(*params.DiskName) {
				params.DiskName = ptr(fmt.Sprintf("%s-disk-%d", instance, i+1))
			}
		}
		disks = append(disks, &computepb.AttachedDisk{
			AutoDelete:       ptr(true),
			Type:             ptr("PERSISTENT"),
			DeviceName:       ptr(device),
			InitializeParams: params,
		})
	}
	return disks, nil
}

func (d *Driver) networkInterfaces() []*computepb.NetworkInterface {
	ni := &computepb.NetworkInterface{Network: ptr(d.networkPath())}
	if s := d.subnetworkPath(); s != "" {
		ni.Subnetwork = ptr(s)
	}
	if d.cfg.ExternalIP {
		ni.AccessConfigs = []*computepb.AccessConfig{{Name: ptr("External NAT"), Type: ptr("ONE_TO_ONE_NAT")}}
	}
	return []*computepb.NetworkInterface{ni}
}

func (d *Driver) serviceAccounts() []*computepb.ServiceAccount {
	if d.cfg.ServiceAccount == "" {
		return nil
	}
	return []*computepb.ServiceAccount{{Email: ptr(d.cfg.ServiceAccount), Scopes: []string{"https://www.googleapis.com/auth/cloud-platform"}}}
}

// instanceName is a unique GCE name for a display name: a valid prefix of it and a random
// suffix.
func instanceName(display string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(display) {
		if b.Len() >= 40 {
			break
		}
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9' && b.Len() > 0:
			b.WriteRune(r)
		case b.Len() > 0 && !strings.HasSuffix(b.String(), "-"):
			b.WriteByte('-')
		}
	}
	prefix := strings.TrimRight(b.String(), "-")
	if prefix == "" {
		prefix = "algos"
	}
	s := make([]byte, 4)
	_, _ = rand.Read(s)
	return prefix + "-" + hex.EncodeToString(s)
}

// instanceID is the ID the driver gives an instance; parseInstanceID takes it apart.
func instanceID(zone, name string, id uint64) string {
	return zone + "/" + name + "/" + strconv.FormatUint(id, 10)
}

func parseInstanceID(id string) (zone, name string, num uint64, ok bool) {
	parts := strings.Split(id, "/")
	if len(parts) != 3 || !validName(parts[0]) || !validName(parts[1]) {
		return "", "", 0, false
	}
	num, err := strconv.ParseUint(parts[2], 10, 64)
	if err != nil {
		return "", "", 0, false
	}
	return parts[0], parts[1], num, true
}

// toInstance converts GCE's instance.
func toInstance(in *computepb.Instance) clouds.Instance {
	zone := lastSegment(in.GetZone())
	out := clouds.Instance{
		ID:           instanceID(zone, in.GetName(), in.GetId()),
		Name:         in.GetName(),
		State:        instanceState(in.GetStatus()),
		InstanceType: machineName(in.GetMachineType(), in.GetGuestAccelerators()),
		Zone:         zone,
		Spot:         in.GetScheduling().GetProvisioningModel() == "SPOT" || in.GetScheduling().GetPreemptible(),
		Tags:         tagsOf(in.GetMetadata(), in.GetLabels()),
		LaunchedAt:   parseTime(in.GetCreationTimestamp()),
	}
	if name, ok := metadataValue(in.GetMetadata(), MetadataName); ok {
		out.Name = name
	}
	if nis := in.GetNetworkInterfaces(); len(nis) > 0 {
		out.PrivateAddress = nis[0].GetNetworkIP()
		for _, ac := range nis[0].GetAccessConfigs() {
			if ip := ac.GetNatIP(); ip != "" {
				out.PublicAddress = ip
				break
			}
		}
	}
	return out
}

// CreateInstance inserts an instance and waits for the insert operation (GCE reports a
// stockout only there), then returns it, usually pending. With no zone it picks the next
// of the driver's zones in turn. The instance's GCE name is a valid prefix of spec.Name
// with a random suffix. Errors: *CapacityError (ZONE_RESOURCE_POOL_EXHAUSTED in that
// zone), *QuotaError, ErrInvalid (bad spec, unknown machine type, image or zone).
func (d *Driver) CreateInstance(ctx context.Context, spec clouds.InstanceSpec) (clouds.Instance, error) {
	if err := ctx.Err(); err != nil {
		return clouds.Instance{}, fmt.Errorf("gcp: create instance: %w", err)
	}
	m, err := parseMachine(spec.InstanceType)
	if err != nil {
		return clouds.Instance{}, err
	}
	zone, err := d.pickZone(ctx, spec.Zone)
	if err != nil {
		return clouds.Instance{}, fmt.Errorf("gcp: create instance: %w", err)
	}
	labels, err := labelsFor(spec.Tags, nil)
	if err != nil {
		return clouds.Instance{}, err
	}
	name := instanceName(spec.Name)
	disks, err := d.attachedDisks(spec, zone, name, labels)
	if err != nil {
		return clouds.Instance{}, err
	}
	res := &computepb.Instance{
		Name:              ptr(name),
		MachineType:       ptr(d.zonePath(zone) + "/machineTypes/" + m.typ),
		Labels:            labels,
		Metadata:          metadataFor(spec),
		Disks:             disks,
		NetworkInterfaces: d.networkInterfaces(),
		ServiceAccounts:   d.serviceAccounts(),
		Scheduling:        m.scheduling(spec.Spot),
	}
	if m.accel != "" {
		res.GuestAccelerators = []*computepb.AcceleratorConfig{{
			AcceleratorType:  ptr(d.zonePath(zone) + "/acceleratorTypes/" + m.accel),
			AcceleratorCount: ptr(m.accelCount),
		}}
	}
	ec := errCtx{zone: zone, machineType: m.name, spot: spec.Spot, create: true}
	err = d.do(ctx, ec, func(ctx context.Context, rid string) (*compute.Operation, error) {
		return d.instances.Insert(ctx, &computepb.InsertInstanceRequest{
			Project: d.cfg.Project, Zone: zone, InstanceResource: res, RequestId: ptr(rid),
		})
	})
	if err != nil {
		return clouds.Instance{}, fmt.Errorf("gcp: create instance %s in %s: %w", name, zone, err)
	}
	d.log.Info("instance created", "instance", name, "zone", zone, "instance_type", m.name, "spot", spec.Spot)
	in, err := d.getInstance(ctx, zone, name)
	if err != nil {
		return clouds.Instance{}, fmt.Errorf("gcp: created instance %s in %s: %w", name, zone, err)
	}
	return toInstance(in), nil
}

// getInstance gets an instance by zone and name; errors mapped.
func (d *Driver) getInstance(ctx context.Context, zone, name string) (*computepb.Instance, error) {
	var in *computepb.Instance
	err := d.retry(ctx, func(ctx context.Context) (err error) {
		in, err = d.instances.Get(ctx, &computepb.GetInstanceRequest{Project: d.cfg.Project, Zone: zone, Instance: name})
		return err
	})
	return in, mapError(err, errCtx{zone: zone})
}

// lookup gets the instance an ID names; ErrNotFound when it does not exist or is another
// VM of the same name (a managed instance group recreated it).
func (d *Driver) lookup(ctx context.Context, id string) (*computepb.Instance, error) {
	zone, name, num, ok := parseInstanceID(id)
	if !ok {
		return nil, fmt.Errorf("gcp: instance %q: not an ID this driver issued: %w", id, clouds.ErrNotFound)
	}
	in, err := d.getInstance(ctx, zone, name)
	if err != nil {
		return nil, fmt.Errorf("gcp: instance %s: %w", id, err)
	}
	if in.GetId() != num {
		return nil, fmt.Errorf("gcp: instance %s was replaced by another of the same name: %w", id, clouds.ErrNotFound)
	}
	return in, nil
}

// GetInstance gets the instance. Errors: ErrNotFound (also for an instance a managed
// instance group recreated under the same name: that is a new ID).
func (d *Driver) GetInstance(ctx context.Context, id string) (clouds.Instance, error) {
	if err := ctx.Err(); err != nil {
		return clouds.Instance{}, fmt.Errorf("gcp: get instance: %w", err)
	}
	in, err := d.lookup(ctx, id)
	if err != nil {
		return clouds.Instance{}, err
	}
	return toInstance(in), nil
}

// ListInstances lists the region's instances (instances.aggregatedList, every zone of the
// region, not only the driver's), filtered server-side on the sanitized labels and then
// exactly on the tags.
func (d *Driver) ListInstances(ctx context.Context, filter clouds.Filter) ([]clouds.Instance, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("gcp: list instances: %w", err)
	}
	ins, err := d.listInstances(ctx, labelFilter(filter.Tags))
	if err != nil {
		return nil, fmt.Errorf("gcp: list instances: %w", err)
	}
	var out []clouds.Instance
	for _, in := range ins {
		if i := toInstance(in); filter.Match(i.Tags) {
			out = append(out, i)
		}
	}
	return out, nil
}

// listInstances returns the region's instances matching a GCE filter; errors mapped.
func (d *Driver) listInstances(ctx context.Context, filter string) ([]*computepb.Instance, error) {
	var out []*computepb.Instance
	err := d.retry(ctx, func(ctx context.Context) error {
		out = out[:0]
		req := &computepb.AggregatedListInstancesRequest{Project: d.cfg.Project}
		if filter != "" {
			req.Filter = ptr(filter)
		}
		it := d.instances.AggregatedList(ctx, req)
		for {
			pair, err := it.Next()
			if err == iterator.Done {
				return nil
			}
			if err != nil {
				return err
			}
			if !d.inRegion(lastSegment(pair.Key)) {
				continue
			}
			out = append(out, pair.Value.GetInstances()...)
		}
	})
	return out, mapError(err, errCtx{})
}

// DeleteInstance deletes the instance and its auto-delete disks (all the disks the driver
// created with it) and waits for the delete operation. Idempotent: an unknown ID, or one
// whose VM is gone or was replaced, returns nil. Deleting a group member this way makes
// the group recreate it; use RemoveMember.
func (d *Driver) DeleteInstance(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("gcp: delete instance: %w", err)
	}
	in, err := d.lookup(ctx, id)
	if isNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	zone := lastSegment(in.GetZone())
	err = d.do(ctx, errCtx{zone: zone}, func(ctx context.Context, rid string) (*compute.Operation, error) {
		return d.instances.Delete(ctx, &computepb.DeleteInstanceRequest{
			Project: d.cfg.Project, Zone: zone, Instance: in.GetName(), RequestId: ptr(rid),
		})
	})
	if err != nil && !isNotFound(err) {
		return fmt.Errorf("gcp: delete instance %s: %w", id, err)
	}
	d.log.Info("instance deleted", "instance", in.GetName(), "zone", zone)
	return nil
}
