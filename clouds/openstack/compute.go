package openstack

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"maps"
	"strings"
	"time"

	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/keypairs"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servers"
	"github.com/gophercloud/gophercloud/v2/openstack/image/v2/images"

	"github.com/algos-dev/algos/clouds"
)

// metaGroup is the server metadata key naming the group (Heat stack) a server belongs to.
const metaGroup = "algos-group"

// maxUserData is Nova's limit on base64-encoded user data.
const maxUserData = 65535

// noValidHost starts the fault message of Nova's NoValidHost, the scheduler's "no host
// has room for this flavor" (in the zone asked for).
const noValidHost = "No valid host was found"

// CreateInstance launches a Nova server: flavorRef from the flavor named InstanceType,
// imageRef from Image (an ID, or a name looked up in Glance; Config.Image when empty),
// user_data base64-encoded, Tags as metadata, availability_zone from Zone, and Disks as
// blank volumes in block_device_mapping_v2, deleted with the server. It waits (polling
// every Config.PollInterval) until Nova's scheduler has placed the server, so that a zone
// without room for the flavor is a *CapacityError here: the failed server is deleted.
// It does not wait for boot. Errors: *CapacityError, *QuotaError, ErrInvalid (unknown
// flavor, image or zone, Spot set: OpenStack has no spot instances, user data over
// 65535 bytes encoded).
func (d *Driver) CreateInstance(ctx context.Context, spec clouds.InstanceSpec) (clouds.Instance, error) {
	const op = "create server"
	if err := ctx.Err(); err != nil {
		return clouds.Instance{}, d.wrap(op, err)
	}
	opts, fl, err := d.serverOpts(ctx, spec)
	if err != nil {
		return clouds.Instance{}, err
	}
	srv, err := servers.Create(ctx, d.compute, opts, nil).Extract()
	if err != nil {
		return clouds.Instance{}, d.wrap(op, err)
	}
	id := srv.ID
	d.log.Info("server created", "instance_id", id, "instance_type", fl.name, "zone", spec.Zone)
	srv, err = d.waitScheduled(ctx, id)
	if err != nil {
		// Leave nothing behind: the caller, not knowing the ID, would launch another.
		d.deleteQuietly(ctx, id)
		return clouds.Instance{}, d.wrap("wait for server "+id+" to be scheduled", err)
	}
	if srv.Status == "ERROR" {
		d.deleteQuietly(ctx, id)
		if strings.HasPrefix(srv.Fault.Message, noValidHost) {
			return clouds.Instance{}, &Error{Op: op, Kind: &clouds.CapacityError{
				Zone: spec.Zone, InstanceType: fl.name, Msg: srv.Fault.Message}}
		}
		return clouds.Instance{}, &Error{Op: op, Message: fmt.Sprintf("server %s failed: %s", id, srv.Fault.Message)}
	}
	return d.instance(srv), nil
}

// serverOpts builds the create request for spec.
func (d *Driver) serverOpts(ctx context.Context, spec clouds.InstanceSpec) (servers.CreateOptsBuilder, flavor, error) {
	invalid := func(format string, args ...any) error {
		return &Error{Op: "create server", Kind: clouds.ErrInvalid, Message: fmt.Sprintf(format, args...)}
	}
	if spec.Spot {
		return nil, flavor{}, invalid("OpenStack has no spot instances: set Spot false")
	}
	fl, err := d.flavorByRef(ctx, spec.InstanceType)
	if err != nil {
		return nil, flavor{}, err
	}
	image, err := d.imageID(ctx, spec.Image)
	if err != nil {
		return nil, flavor{}, err
	}
	userData, err := encodeUserData(spec.UserData)
	if err != nil {
		return nil, flavor{}, invalid("%v", err)
	}
	name := spec.Name
	if name == "" {
		name = "algos-" + randomHex(4)
	}
	opts := servers.CreateOpts{
		Name: name, ImageRef: image, FlavorRef: fl.id, AvailabilityZone: spec.Zone,
		UserData: userData, Metadata: maps.Clone(spec.Tags), SecurityGroups: d.cfg.SecurityGroups,
		Networks: d.networks(),
	}
	if len(spec.Disks) > 0 {
		opts.BlockDevice = []servers.BlockDevice{{SourceType: servers.SourceImage, UUID: image,
			DestinationType: servers.DestinationLocal, BootIndex: 0, DeleteOnTermination: true}}
		for _, disk := range spec.Disks {
			if disk.SizeGiB < 1 {
				return nil, flavor{}, invalid("disk %q: SizeGiB %d: want at least 1", disk.Name, disk.SizeGiB)
			}
			opts.BlockDevice = append(opts.BlockDevice, servers.BlockDevice{SourceType: servers.SourceBlank,
				DestinationType: servers.DestinationVolume, VolumeSize: disk.SizeGiB, VolumeType: disk.Type,
				BootIndex: -1, DeleteOnTermination: true})
		}
	}
	if d.cfg.KeyName != "" {
		return keypairs.CreateOptsExt{CreateOptsBuilder: opts, KeyName: d.cfg.KeyName}, fl, nil
	}
	return opts, fl, nil
}

// encodeUserData base64-encodes user data for Nova. (gophercloud sends data that already
// decodes as base64 unchanged, which would corrupt a script that happens to be valid
// base64: the driver always encodes.)
func encodeUserData(s string) ([]byte, error) {
	if s == "" {
		return nil, nil
	}
	enc := base64.StdEncoding.EncodeToString([]byte(s))
	if len(enc) > maxUserData {
		return nil, fmt.Errorf("user data is %d bytes, %d encoded: Nova takes at most %d encoded", len(s), len(enc), maxUserData)
	}
	return []byte(enc), nil
}

// networks is the networks field of a server create: Config.Network, or "auto".
func (d *Driver) networks() any {
	if d.cfg.Network != "" {
		return []servers.Network{{UUID: d.cfg.Network}}
	}
	return "auto"
}

// imageID resolves an image name or ID (Config.Image when empty): a UUID is used as it
// is; a name is looked up in Glance among active images, the newest winning.
func (d *Driver) imageID(ctx context.Context, ref string) (string, error) {
	const op = "find image"
	if ref == "" {
		ref = d.cfg.Image
	}
	switch {
	case ref == "":
		return "", &Error{Op: op, Kind: clouds.ErrInvalid, Message: "no image: set InstanceSpec.Image or Config.Image"}
	case isUUID(ref):
		return ref, nil
	case d.image == nil:
		return "", &Error{Op: op, Kind: clouds.ErrInvalid, Message: fmt.Sprintf("image %q is a name and the catalog has no image service to look it up: use the image ID", ref),
			Err: ErrNoService}
	}
	pages, err := images.List(d.image, images.ListOpts{Name: ref, Status: images.ImageStatusActive, Sort: "created_at:desc"}).AllPages(ctx)
	if err != nil {
		return "", d.wrap(op, err)
	}
	list, err := images.ExtractImages(pages)
	if err != nil {
		return "", d.wrap(op, err)
	}
	var best *images.Image
	for i := range list {
		if list[i].Name == ref && (best == nil || list[i].CreatedAt.After(best.CreatedAt)) {
			best = &list[i]
		}
	}
	if best == nil {
		return "", &Error{Op: op, Kind: clouds.ErrInvalid, Message: fmt.Sprintf("no active image named %q", ref)}
	}
	return best.ID, nil
}

func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, c := range s {
		switch {
		case i == 8 || i == 13 || i == 18 || i == 23:
			if c != '-' {
				return false
			}
		case !strings.ContainsRune("0123456789abcdefABCDEF", c):
			return false
		}
	}
	return true
}

// waitScheduled polls the server until it leaves BUILD/scheduling.
func (d *Driver) waitScheduled(ctx context.Context, id string) (*servers.Server, error) {
	var srv *servers.Server
	err := d.poll(ctx, func() (bool, error) {
		var err error
		if srv, err = servers.Get(ctx, d.compute, id).Extract(); err != nil {
			return false, err
		}
		return srv.Status != "BUILD" || (srv.TaskState != "scheduling" && srv.TaskState != ""), nil
	})
	return srv, err
}

// deleteQuietly deletes a server the caller will not see, with a context of its own when
// ctx is done; failures are logged.
func (d *Driver) deleteQuietly(ctx context.Context, id string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	if err := servers.Delete(ctx, d.compute, id).ExtractErr(); err != nil && !isStatus(err, 404) {
		d.log.Warn("could not delete a failed server", "instance_id", id, "error", d.wrap("delete server", err))
	}
}

// GetInstance returns the server. Errors: ErrNotFound.
func (d *Driver) GetInstance(ctx context.Context, id string) (clouds.Instance, error) {
	srv, err := servers.Get(ctx, d.compute, id).Extract()
	if err != nil {
		return clouds.Instance{}, d.wrap("get server "+id, err)
	}
	return d.instance(srv), nil
}

// ListInstances lists the project's servers and keeps those whose metadata carries the
// filter's tags (Nova cannot filter on metadata).
func (d *Driver) ListInstances(ctx context.Context, filter clouds.Filter) ([]clouds.Instance, error) {
	pages, err := servers.List(d.compute, servers.ListOpts{}).AllPages(ctx)
	if err != nil {
		return nil, d.wrap("list servers", err)
	}
	list, err := servers.ExtractServers(pages)
	if err != nil {
		return nil, d.wrap("list servers", err)
	}
	out := make([]clouds.Instance, 0, len(list))
	for i := range list {
		if filter.Match(list[i].Metadata) {
			out = append(out, d.instance(&list[i]))
		}
	}
	return out, nil
}

// DeleteInstance deletes the server (and the volumes created with it). It does not wait:
// the server is stopping (task state deleting) until Nova removes it. Idempotent.
func (d *Driver) DeleteInstance(ctx context.Context, id string) error {
	err := servers.Delete(ctx, d.compute, id).ExtractErr()
	if err != nil && !isStatus(err, 404) {
		return d.wrap("delete server "+id, err)
	}
	if err == nil {
		d.log.Info("server deleted", "instance_id", id)
	}
	return nil
}

// instance converts a Nova server.
func (d *Driver) instance(srv *servers.Server) clouds.Instance {
	in := clouds.Instance{
		ID: srv.ID, Name: srv.Name, State: state(srv.Status, srv.TaskState), Zone: srv.AvailabilityZone,
		Tags: maps.Clone(srv.Metadata), LaunchedAt: srv.LaunchedAt,
	}
	if in.Tags == nil {
		in.Tags = map[string]string{}
	}
	if in.LaunchedAt.IsZero() {
		in.LaunchedAt = srv.Created
	}
	if name, ok := srv.Flavor["original_name"].(string); ok {
		in.InstanceType = name
	} else if id, ok := srv.Flavor["id"].(string); ok {
		in.InstanceType = d.flavorName(id)
	}
	in.PrivateAddress, in.PublicAddress = addresses(srv.Addresses)
	return in
}

// flavorName maps a flavor ID to its name from the cache (the ID when unknown).
func (d *Driver) flavorName(id string) string {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, f := range d.flavors {
		if f.id == id {
			return f.name
		}
	}
	return id
}

// addresses returns a server's first fixed and first floating IPv4 address.
func addresses(all map[string]any) (private, public string) {
	for _, network := range all {
		list, _ := network.([]any)
		for _, a := range list {
			m, _ := a.(map[string]any)
			addr, _ := m["addr"].(string)
			if v, ok := m["version"]; ok && fmt.Sprint(v) != "4" {
				continue
			}
			switch m["OS-EXT-IPS:type"] {
			case "floating":
				if public == "" {
					public = addr
				}
			default:
				if private == "" {
					private = addr
				}
			}
		}
	}
	return private, public
}

// state normalizes a Nova status and task state; see the package documentation.
func state(status, task string) clouds.InstanceState {
	var s clouds.InstanceState
	switch status {
	case "BUILD", "REBUILD":
		s = clouds.StatePending
	case "SHUTOFF", "STOPPED", "SUSPENDED", "PAUSED", "SHELVED", "SHELVED_OFFLOADED",
		"SOFT_DELETED", "DELETED", "ERROR":
		return clouds.StateTerminated
	case "UNKNOWN":
		s = clouds.StatePending
	default: // ACTIVE, REBOOT, HARD_REBOOT, PASSWORD, RESIZE, VERIFY_RESIZE, REVERT_RESIZE, MIGRATING, RESCUE
		s = clouds.StateRunning
	}
	switch task {
	case "deleting", "soft-deleting", "powering-off", "suspending", "pausing", "shelving", "shelving_offloading":
		return clouds.StateStopping
	}
	return s
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
