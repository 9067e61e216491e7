package openstack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/availabilityzones"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servers"
	"github.com/gophercloud/gophercloud/v2/openstack/orchestration/v1/stackresources"
	"github.com/gophercloud/gophercloud/v2/openstack/orchestration/v1/stacks"

	"github.com/algos-dev/algos/clouds"
)

// groupResource is the name of the AutoScalingGroup resource in a group's stack.
const groupResource = "group"

// stackName is what Heat accepts as a stack name.
var stackName = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9_.-]{0,254}$`)

// CreateGroup creates a Heat stack named spec.Name holding one OS::Heat::AutoScalingGroup
// of OS::Nova::Server members. The template's parameters carry min_size, max_size,
// desired_capacity, flavor, image, metadata (the template's tags plus algos-group: name,
// which is how ListMembers finds members), zones, and user_data (a hidden parameter:
// Heat shows it as ******). Members are pinned to the zone when spec.Zones has exactly
// one; with none or several the zone is left to Nova's scheduler, which skips zones
// without room for the flavor but may use zones outside spec.Zones (neither Nova nor
// Heat's AutoScalingGroup takes a list of zones). It does not wait for members.
// Errors: ErrAlreadyExists (Heat's 409 for an existing stack name), ErrInvalid.
func (d *Driver) CreateGroup(ctx context.Context, spec clouds.GroupSpec) (clouds.Group, error) {
	const op = "create group"
	if err := ctx.Err(); err != nil {
		return clouds.Group{}, d.wrap(op, err)
	}
	if err := d.need(d.heat, "orchestration"); err != nil {
		return clouds.Group{}, err
	}
	invalid := func(format string, args ...any) error {
		return &Error{Op: op, Kind: clouds.ErrInvalid, Message: fmt.Sprintf(format, args...)}
	}
	if err := spec.Validate(); err != nil {
		return clouds.Group{}, &Error{Op: op, Kind: clouds.ErrInvalid, Err: err}
	}
	t := spec.Template
	switch {
	case !stackName.MatchString(spec.Name):
		return clouds.Group{}, invalid("group name %q: Heat stack names start with a letter and hold letters, digits, _ . -", spec.Name)
	case t.Spot:
		return clouds.Group{}, invalid("OpenStack has no spot instances: set Template.Spot false")
	}
	fl, err := d.flavorByRef(ctx, t.InstanceType)
	if err != nil {
		return clouds.Group{}, err
	}
	image, err := d.imageID(ctx, t.Image)
	if err != nil {
		return clouds.Group{}, err
	}
	if _, err := encodeUserData(t.UserData); err != nil {
		return clouds.Group{}, invalid("%v", err)
	}
	if err := d.checkZones(ctx, spec.Zones); err != nil {
		return clouds.Group{}, err
	}
	tmpl, err := d.groupTemplate(spec)
	if err != nil {
		return clouds.Group{}, invalid("%v", err)
	}
	meta := maps.Clone(t.Tags)
	if meta == nil {
		meta = map[string]string{}
	}
	meta[metaGroup] = spec.Name
	opts := stacks.CreateOpts{
		Name:         spec.Name,
		TemplateOpts: &stacks.Template{TE: stacks.TE{Bin: tmpl}},
		Timeout:      60,
		Tags:         []string{metaGroup},
		Parameters: map[string]any{
			"min_size": spec.Min, "max_size": spec.Max, "desired_capacity": spec.Desired,
			"flavor": fl.name, "image": image, "zones": strings.Join(spec.Zones, ","),
			"metadata": meta, "user_data": t.UserData,
		},
	}
	if _, err := stacks.Create(ctx, d.heat, opts).Extract(); err != nil {
		if isStatus(err, 409) {
			return clouds.Group{}, &Error{Op: op, Status: 409, Kind: clouds.ErrAlreadyExists,
				Message: fmt.Sprintf("a stack named %q exists", spec.Name), Err: err}
		}
		return clouds.Group{}, d.wrap(op, err)
	}
	d.log.Info("group created", "group", spec.Name, "instance_type", fl.name, "desired", spec.Desired)
	return clouds.Group{Name: spec.Name, Min: spec.Min, Max: spec.Max, Desired: spec.Desired,
		Zones: slices.Clone(spec.Zones), InstanceType: fl.name, Tags: maps.Clone(t.Tags), CreatedAt: time.Now()}, nil
}

// checkZones checks that every zone is one of Nova's availability zones.
func (d *Driver) checkZones(ctx context.Context, zones []string) error {
	if len(zones) == 0 {
		return nil
	}
	pages, err := availabilityzones.List(d.compute).AllPages(ctx)
	if err != nil {
		return d.wrap("list availability zones", err)
	}
	list, err := availabilityzones.ExtractAvailabilityZones(pages)
	if err != nil {
		return d.wrap("list availability zones", err)
	}
	for _, z := range zones {
		if !slices.ContainsFunc(list, func(a availabilityzones.AvailabilityZone) bool { return a.ZoneName == z }) {
			return &Error{Op: "create group", Kind: clouds.ErrInvalid, Message: fmt.Sprintf("no availability zone %q", z)}
		}
	}
	return nil
}

// groupTemplate is the HOT template (in its JSON form) of a group's stack.
func (d *Driver) groupTemplate(spec clouds.GroupSpec) ([]byte, error) {
	param := func(name string) map[string]any { return map[string]any{"get_param": name} }
	server := map[string]any{
		"image": param("image"), "flavor": param("flavor"), "metadata": param("metadata"),
		"user_data": param("user_data"), "user_data_format": "RAW",
	}
	if d.cfg.Network != "" {
		server["networks"] = []any{map[string]any{"network": d.cfg.Network}}
	} else {
		server["networks"] = []any{map[string]any{"allocate_network": "auto"}}
	}
	if d.cfg.KeyName != "" {
		server["key_name"] = d.cfg.KeyName
	}
	if len(d.cfg.SecurityGroups) > 0 {
		server["security_groups"] = d.cfg.SecurityGroups
	}
	if len(spec.Zones) == 1 {
		server["availability_zone"] = spec.Zones[0]
	}
	var bdm []any
	for _, disk := range spec.Template.Disks {
		if disk.SizeGiB < 1 {
			return nil, fmt.Errorf("disk %q: SizeGiB %d: want at least 1", disk.Name, disk.SizeGiB)
		}
		bdm = append(bdm, map[string]any{"volume_size": disk.SizeGiB, "delete_on_termination": true, "boot_index": -1})
	}
	if bdm != nil {
		server["block_device_mapping_v2"] = bdm
	}
	return json.Marshal(map[string]any{
		"heat_template_version": "2016-10-14",
		"description":           "algos instance group " + spec.Name,
		"parameters": map[string]any{
			"min_size":         map[string]any{"type": "number"},
			"max_size":         map[string]any{"type": "number"},
			"desired_capacity": map[string]any{"type": "number"},
			"flavor":           map[string]any{"type": "string"},
			"image":            map[string]any{"type": "string"},
			"zones":            map[string]any{"type": "string", "default": ""},
			"metadata":         map[string]any{"type": "json"},
			"user_data":        map[string]any{"type": "string", "default": "", "hidden": true},
		},
		"resources": map[string]any{groupResource: map[string]any{
			"type": "OS::Heat::AutoScalingGroup",
			"properties": map[string]any{
				"min_size": param("min_size"), "max_size": param("max_size"), "desired_capacity": param("desired_capacity"),
				"resource": map[string]any{"type": "OS::Nova::Server", "properties": server},
			},
		}},
	})
}

// findStack returns the group's stack. Errors: ErrNotFound, ErrInvalid for a stack that
// is not a group.
func (d *Driver) findStack(ctx context.Context, op, name string) (*stacks.RetrievedStack, clouds.Group, error) {
	if err := ctx.Err(); err != nil {
		return nil, clouds.Group{}, d.wrap(op, err)
	}
	if err := d.need(d.heat, "orchestration"); err != nil {
		return nil, clouds.Group{}, err
	}
	if !stackName.MatchString(name) {
		return nil, clouds.Group{}, &Error{Op: op, Kind: clouds.ErrNotFound, Message: fmt.Sprintf("no group %q", name)}
	}
	st, err := stacks.Find(ctx, d.heat, name).Extract()
	if err != nil {
		return nil, clouds.Group{}, d.wrap(op, err)
	}
	p := st.Parameters
	num := func(k string) (int, bool) { n, err := strconv.Atoi(p[k]); return n, err == nil }
	g := clouds.Group{Name: st.Name, InstanceType: p["flavor"], CreatedAt: st.CreationTime, Tags: map[string]string{}}
	var ok1, ok2, ok3 bool
	g.Min, ok1 = num("min_size")
	g.Max, ok2 = num("max_size")
	g.Desired, ok3 = num("desired_capacity")
	if !ok1 || !ok2 || !ok3 || json.Unmarshal([]byte(p["metadata"]), &g.Tags) != nil {
		return nil, clouds.Group{}, &Error{Op: op, Kind: clouds.ErrInvalid, Message: fmt.Sprintf("stack %q is not an algos group", name)}
	}
	delete(g.Tags, metaGroup)
	if p["zones"] != "" {
		g.Zones = strings.Split(p["zones"], ",")
	}
	return st, g, nil
}

// GetGroup returns the group from its stack's parameters. A stack being deleted is still
// found. Errors: ErrNotFound.
func (d *Driver) GetGroup(ctx context.Context, name string) (clouds.Group, error) {
	_, g, err := d.findStack(ctx, "get group "+name, name)
	return g, err
}

// ResizeGroup updates the stack's desired_capacity (a PATCH update keeping the template
// and the other parameters); Heat adds members, or removes failed ones first and then the
// oldest. Idempotent: the same size makes no update. Errors: ErrNotFound, ErrInvalid.
func (d *Driver) ResizeGroup(ctx context.Context, name string, desired int) error {
	op := "resize group " + name
	st, g, err := d.findStack(ctx, op, name)
	if err != nil {
		return err
	}
	if desired < g.Min || desired > g.Max {
		return &Error{Op: op, Kind: clouds.ErrInvalid, Message: fmt.Sprintf("desired %d outside min %d..max %d", desired, g.Min, g.Max)}
	}
	if desired == g.Desired && !strings.HasSuffix(st.Status, "_FAILED") {
		return nil
	}
	if err := d.updateStack(ctx, op, st, map[string]any{"desired_capacity": desired}); err != nil {
		return err
	}
	d.log.Info("group resized", "group", name, "desired", desired)
	return nil
}

// updateStack PATCHes the stack with params, retrying while Heat answers 409 because an
// action is in progress (an engine without convergence refuses concurrent updates). A
// stack being deleted is ErrNotFound.
func (d *Driver) updateStack(ctx context.Context, op string, st *stacks.RetrievedStack, params map[string]any) error {
	deleting := &Error{Op: op, Kind: clouds.ErrNotFound, Message: "the group is being deleted"}
	if strings.HasPrefix(st.Status, "DELETE_") {
		return deleting
	}
	return d.poll(ctx, func() (bool, error) {
		err := stacks.UpdatePatch(ctx, d.heat, st.Name, st.ID, stacks.UpdateOpts{Parameters: params}).ExtractErr()
		if !isStatus(err, 409) {
			return true, d.wrap(op, err)
		}
		now, err := stacks.Get(ctx, d.heat, st.Name, st.ID).Extract()
		switch {
		case err != nil:
			return false, d.wrap(op, err)
		case strings.HasPrefix(now.Status, "DELETE_"):
			return false, deleting
		}
		return false, nil
	})
}

// ListMembers returns the servers whose metadata names the group. Errors: ErrNotFound.
func (d *Driver) ListMembers(ctx context.Context, name string) ([]clouds.Instance, error) {
	if _, _, err := d.findStack(ctx, "list members of group "+name, name); err != nil {
		return nil, err
	}
	return d.ListInstances(ctx, clouds.Filter{Tags: map[string]string{metaGroup: name}})
}

// RemoveMember removes one member as Heat's AutoScalingGroup allows choosing it: it marks
// the member's resource in the group's nested stack unhealthy (CHECK_FAILED), deletes the
// server, and updates the stack — with desired_capacity lowered by one when decrement is
// set, so that Heat removes the failed member rather than the oldest; without, unchanged,
// so that Heat replaces the failed member. A server that is not (any more) an active
// member changes nothing. Errors: ErrNotFound for the group, ErrInvalid when decrement
// would go below Min.
func (d *Driver) RemoveMember(ctx context.Context, group, instanceID string, decrement bool) error {
	op := "remove member " + instanceID + " of group " + group
	st, g, err := d.findStack(ctx, op, group)
	if err != nil {
		return err
	}
	srv, err := servers.Get(ctx, d.compute, instanceID).Extract()
	if isStatus(err, 404) {
		return nil
	}
	if err != nil {
		return d.wrap(op, err)
	}
	if srv.Metadata[metaGroup] != group || !state(srv.Status, srv.TaskState).Active() {
		return nil
	}
	if decrement && g.Desired-1 < g.Min {
		return &Error{Op: op, Kind: clouds.ErrInvalid, Message: fmt.Sprintf("desired %d is min %d: cannot decrement", g.Desired, g.Min)}
	}
	if err := d.markUnhealthy(ctx, op, st, instanceID); err != nil {
		return err
	}
	if err := servers.Delete(ctx, d.compute, instanceID).ExtractErr(); err != nil && !isStatus(err, 404) {
		return d.wrap(op, err)
	}
	params := map[string]any{}
	if decrement {
		params["desired_capacity"] = g.Desired - 1
	}
	if err := d.updateStack(ctx, op, st, params); err != nil {
		return err
	}
	d.log.Info("group member removed", "group", group, "instance_id", instanceID, "decrement", decrement)
	return nil
}

// markUnhealthy marks the group member whose server is instanceID unhealthy. A member
// Heat does not list is skipped.
func (d *Driver) markUnhealthy(ctx context.Context, op string, st *stacks.RetrievedStack, instanceID string) error {
	pages, err := stackresources.List(d.heat, st.Name, st.ID, stackresources.ListOpts{Depth: 1}).AllPages(ctx)
	if err != nil {
		return d.wrap(op, err)
	}
	list, err := stackresources.ExtractResources(pages)
	if err != nil {
		return d.wrap(op, err)
	}
	for _, r := range list {
		if r.PhysicalID != instanceID || r.ParentResource != groupResource {
			continue
		}
		for _, l := range r.Links {
			if l.Rel != "stack" {
				continue
			}
			u, err := url.Parse(l.Href)
			if err != nil {
				continue
			}
			parts := strings.Split(strings.TrimSuffix(u.Path, "/"), "/")
			if len(parts) < 2 {
				continue
			}
			nestedName, nestedID := parts[len(parts)-2], parts[len(parts)-1]
			err = stackresources.MarkUnhealthy(ctx, d.heat, nestedName, nestedID, r.Name, stackresources.MarkUnhealthyOpts{
				MarkUnhealthy: true, ResourceStatusReason: "removed by algos"}).ExtractErr()
			if err != nil && !isStatus(err, 404) {
				return d.wrap(op, err)
			}
			return nil
		}
	}
	d.log.Warn("group member not among the stack's resources; deleting its server only", "group", st.Name, "instance_id", instanceID)
	return nil
}

// DeleteGroup deletes the stack; Heat deletes the members. It does not wait: GetGroup
// finds the stack (DELETE_IN_PROGRESS) until Heat is done. Idempotent.
func (d *Driver) DeleteGroup(ctx context.Context, name string) error {
	op := "delete group " + name
	st, _, err := d.findStack(ctx, op, name)
	if err != nil {
		if errors.Is(err, clouds.ErrNotFound) {
			return nil
		}
		return err
	}
	if st.Status == "DELETE_IN_PROGRESS" {
		return nil
	}
	err = d.poll(ctx, func() (bool, error) {
		err := stacks.Delete(ctx, d.heat, st.Name, st.ID).ExtractErr()
		if isStatus(err, 409) {
			return false, nil
		}
		if isStatus(err, 404) {
			return true, nil
		}
		return true, err
	})
	if err != nil {
		return d.wrap(op, err)
	}
	d.log.Info("group deleted", "group", name)
	return nil
}
