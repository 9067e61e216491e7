package provider

import (
	"context"
	"fmt"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/boolplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64default"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/listplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/algos-dev/algos/api"
)

var (
	_ resource.ResourceWithConfigure      = (*nodePoolResource)(nil)
	_ resource.ResourceWithImportState    = (*nodePoolResource)(nil)
	_ resource.ResourceWithValidateConfig = (*nodePoolResource)(nil)
)

// Clouds a node pool may name; whether the control plane has one configured is its answer.
var cloudNames = []string{"local", "aws", "gcp", "azure", "openstack"}

// nodePoolResource is algos_node_pool.
type nodePoolResource struct {
	data *clientData
	poll time.Duration // how often waits read the pool
}

func newNodePoolResource() resource.Resource {
	return &nodePoolResource{poll: 250 * time.Millisecond}
}

// nodePoolModel is algos_node_pool's state.
type nodePoolModel struct {
	ID           types.String `tfsdk:"id"`
	Name         types.String `tfsdk:"name"`
	Cloud        types.String `tfsdk:"cloud"`
	Account      types.String `tfsdk:"account"`
	Region       types.String `tfsdk:"region"`
	Zones        types.List   `tfsdk:"zones"`
	InstanceType types.String `tfsdk:"instance_type"`
	Fallbacks    types.List   `tfsdk:"fallback_instance_types"`
	Image        types.String `tfsdk:"image"`
	GPUType      types.String `tfsdk:"gpu_type"`
	GPUCount     types.Int64  `tfsdk:"gpu_count"`
	Spot         types.Bool   `tfsdk:"spot"`
	MinIsolation types.String `tfsdk:"min_isolation"`
	MinSize      types.Int64  `tfsdk:"min_size"`
	MaxSize      types.Int64  `tfsdk:"max_size"`
	DesiredSize  types.Int64  `tfsdk:"desired_size"`
	Labels       types.Map    `tfsdk:"labels"`
	Size         types.Int64  `tfsdk:"size"`
	NodeIDs      types.List   `tfsdk:"node_ids"`
	Status       types.String `tfsdk:"status"`
}

// Metadata implements resource.Resource.
func (r *nodePoolResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_node_pool"
}

// Schema implements resource.Resource.
func (r *nodePoolResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	replaceStr := []planmodifier.String{stringplanmodifier.RequiresReplace()}
	resp.Schema = schema.Schema{
		MarkdownDescription: "A node pool: a group of machines of one cloud whose agents run algorithm workers. " +
			"Creating it waits (up to 3 minutes) until `desired_size` nodes have started their agent and registered; " +
			"on the `local` cloud the nodes are agent processes of the control plane's machine. Sizes, labels and fallback instance types change " +
			"in place; the rest replaces the pool. Needs an administrator's API key.\n\nImport with the pool's name as ID.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				MarkdownDescription: "The pool's ID: its name.",
				Computed:            true,
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"name": schema.StringAttribute{
				MarkdownDescription: "The pool's name (what `node_pool` of an algorithm names): 1 to 64 letters, digits, `-` or `_`, starting with a letter.",
				Required:            true,
				Validators:          []validator.String{nameValidator()},
				PlanModifiers:       replaceStr,
			},
			"cloud": schema.StringAttribute{
				MarkdownDescription: "The cloud the nodes run on: `local`, `aws`, `gcp`, `azure` or `openstack`. The control plane must have it configured.",
				Required:            true,
				Validators:          []validator.String{stringvalidator.OneOf(cloudNames...)},
				PlanModifiers:       replaceStr,
			},
			"account": schema.StringAttribute{
				MarkdownDescription: "The cloud account (created with `algos cloud-account create` or `POST /v1/cloud-accounts`) the pool's machines are provisioned in. Required by `aws`, `gcp`, `azure` and `openstack`; the `local` cloud needs none.",
				Optional:            true,
				Validators:          []validator.String{nameValidator()},
				PlanModifiers:       replaceStr,
			},
			"region": schema.StringAttribute{
				MarkdownDescription: "The cloud region, e.g. `us-east-1`.",
				Optional:            true,
				PlanModifiers:       replaceStr,
			},
			"zones": schema.ListAttribute{
				MarkdownDescription: "Zones to spread the nodes over (default: the cloud's choice). The `local` cloud has one zone, `local`.",
				Optional:            true,
				ElementType:         types.StringType,
				Validators:          []validator.List{listvalidator.ValueStringsAre(stringvalidator.LengthAtLeast(1))},
				PlanModifiers:       []planmodifier.List{listplanmodifier.RequiresReplace()},
			},
			"instance_type": schema.StringAttribute{
				MarkdownDescription: "The cloud's instance type, e.g. `g5.xlarge`; see the `algos_instance_types` data source. The `local` cloud has one, `local`.",
				Optional:            true,
				PlanModifiers:       replaceStr,
			},
			"fallback_instance_types": schema.ListAttribute{
				MarkdownDescription: "Instance types tried in order when the cloud has no capacity for `instance_type` in any zone. Changes in place.",
				Optional:            true,
				ElementType:         types.StringType,
				Validators:          []validator.List{listvalidator.ValueStringsAre(stringvalidator.LengthAtLeast(1))},
			},
			"image": schema.StringAttribute{
				MarkdownDescription: "The machine image the nodes boot (default: the cloud driver's).",
				Optional:            true,
				PlanModifiers:       replaceStr,
			},
			"gpu_type": schema.StringAttribute{
				MarkdownDescription: "The GPU model the nodes carry, e.g. `NVIDIA H100`: checked against the instance type.",
				Optional:            true,
				PlanModifiers:       replaceStr,
			},
			"gpu_count": schema.Int64Attribute{
				MarkdownDescription: "GPUs per node: checked against the instance type.",
				Optional:            true,
				Validators:          []validator.Int64{int64validator.AtLeast(0)},
				PlanModifiers:       []planmodifier.Int64{int64planmodifier.RequiresReplace()},
			},
			"spot": schema.BoolAttribute{
				MarkdownDescription: "Run on spot (preemptible) capacity. Default `false`.",
				Optional:            true,
				Computed:            true,
				Default:             booldefault.StaticBool(false),
				PlanModifiers:       []planmodifier.Bool{boolplanmodifier.RequiresReplace()},
			},
			"min_isolation": schema.StringAttribute{
				MarkdownDescription: "Refuse nodes whose worker sandbox is weaker: `none`, `basic` or `full` (namespaces). Default: any.",
				Optional:            true,
				Validators:          []validator.String{stringvalidator.OneOf("none", "basic", "full")},
				PlanModifiers:       replaceStr,
			},
			"min_size": schema.Int64Attribute{
				MarkdownDescription: "Fewest nodes. Default 1.",
				Optional:            true,
				Computed:            true,
				Default:             int64default.StaticInt64(1),
				Validators:          []validator.Int64{int64validator.AtLeast(0)},
			},
			"max_size": schema.Int64Attribute{
				MarkdownDescription: "Most nodes, at least 1.",
				Required:            true,
				Validators:          []validator.Int64{int64validator.AtLeast(1)},
			},
			"desired_size": schema.Int64Attribute{
				MarkdownDescription: "Nodes to run now, between `min_size` and `max_size`. Defaults to `min_size`.",
				Optional:            true,
				Computed:            true,
				Validators:          []validator.Int64{int64validator.AtLeast(0)},
				PlanModifiers:       []planmodifier.Int64{desiredSizeModifier{}},
			},
			"labels": schema.MapAttribute{
				MarkdownDescription: "Labels of the pool, also set as tags on its cloud resources.",
				Optional:            true,
				ElementType:         types.StringType,
			},
			"size": schema.Int64Attribute{
				MarkdownDescription: "Nodes of the pool that are registered and ready.",
				Computed:            true,
			},
			"node_ids": schema.ListAttribute{
				MarkdownDescription: "IDs of the pool's ready nodes (as `GET /v1/nodes` lists them).",
				Computed:            true,
				ElementType:         types.StringType,
			},
			"status": schema.StringAttribute{
				MarkdownDescription: "A line on the pool's last reconcile, e.g. `1 of 1 node(s) ready`.",
				Computed:            true,
			},
		},
	}
}

// Configure implements resource.ResourceWithConfigure.
func (r *nodePoolResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.data = clientFrom(req.ProviderData, &resp.Diagnostics)
}

// ValidateConfig implements resource.ResourceWithValidateConfig: 0 <= min_size <= desired_size
// <= max_size, at plan time.
func (r *nodePoolResource) ValidateConfig(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	var lo, want, hi types.Int64
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("min_size"), &lo)...)
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("desired_size"), &want)...)
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("max_size"), &hi)...)
	if resp.Diagnostics.HasError() || lo.IsUnknown() || want.IsUnknown() || hi.IsUnknown() {
		return
	}
	least := int64(1) // min_size's default
	if !lo.IsNull() {
		least = lo.ValueInt64()
	}
	if !hi.IsNull() && least > hi.ValueInt64() {
		resp.Diagnostics.AddAttributeError(path.Root("min_size"), "min_size is above max_size",
			fmt.Sprintf("min_size %d is above max_size %d: need 0 <= min_size <= desired_size <= max_size.", least, hi.ValueInt64()))
		return
	}
	if want.IsNull() {
		return
	}
	if want.ValueInt64() < least {
		resp.Diagnostics.AddAttributeError(path.Root("desired_size"), "desired_size is below min_size",
			fmt.Sprintf("desired_size %d is below min_size %d: need 0 <= min_size <= desired_size <= max_size.", want.ValueInt64(), least))
	}
	if !hi.IsNull() && want.ValueInt64() > hi.ValueInt64() {
		resp.Diagnostics.AddAttributeError(path.Root("desired_size"), "desired_size is above max_size",
			fmt.Sprintf("desired_size %d is above max_size %d: need 0 <= min_size <= desired_size <= max_size.", want.ValueInt64(), hi.ValueInt64()))
	}
}

// Create implements resource.Resource: it creates the pool and waits until desired_size nodes
// are ready. A pool that does not get there is kept in the state (tainted) with an error.
func (r *nodePoolResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	if notConfigured(r.data, &resp.Diagnostics) {
		return
	}
	var plan nodePoolModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	name := plan.Name.ValueString()
	ctx = tflog.SetField(ctx, "pool", name)
	spec := plan.spec(ctx, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	p, err := r.data.client.CreatePool(ctx, api.CreatePool{Name: name, Spec: spec})
	if err != nil {
		if isConflict(err) {
			resp.Diagnostics.AddError("Node pool exists already",
				fmt.Sprintf("Node pool %s exists on the control plane. Import it instead: terraform import <address> %s", name, name))
			return
		}
		addAPIError(&resp.Diagnostics, "Cannot create node pool "+name, err)
		return
	}
	tflog.Info(ctx, "node pool created; waiting for its nodes", map[string]any{"desired_size": spec.DesiredSize})
	p, werr := r.waitSize(ctx, p)
	plan.setFromAPI(p, &resp.Diagnostics)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
	if werr != nil {
		resp.Diagnostics.AddError("Node pool "+name+" did not become ready", werr.Error())
	}
}

// Read implements resource.Resource. A pool deleted outside Terraform is removed from the
// state, so the plan creates it again.
func (r *nodePoolResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	if notConfigured(r.data, &resp.Diagnostics) {
		return
	}
	var state nodePoolModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	name := state.Name.ValueString()
	p, err := r.data.client.GetPool(ctx, name)
	if isNotFound(err) {
		tflog.Warn(ctx, "node pool is gone: removing it from the state", map[string]any{"pool": name})
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		addAPIError(&resp.Diagnostics, "Cannot read node pool "+name, err)
		return
	}
	state.setFromAPI(p, &resp.Diagnostics)
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

// Update implements resource.Resource: sizes and labels change in place, and it waits until the
// pool has its new desired size.
func (r *nodePoolResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	if notConfigured(r.data, &resp.Diagnostics) {
		return
	}
	var plan nodePoolModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	name := plan.Name.ValueString()
	ctx = tflog.SetField(ctx, "pool", name)
	spec := plan.spec(ctx, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	p, err := r.data.client.UpdatePool(ctx, name, spec)
	if err != nil {
		addAPIError(&resp.Diagnostics, "Cannot update node pool "+name, err)
		return
	}
	tflog.Info(ctx, "node pool updated; waiting for its size", map[string]any{"desired_size": spec.DesiredSize})
	p, werr := r.waitSize(ctx, p)
	plan.setFromAPI(p, &resp.Diagnostics)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
	if werr != nil {
		resp.Diagnostics.AddError("Node pool "+name+" did not reach its desired size", werr.Error())
	}
}

// Delete implements resource.Resource: it deletes the pool (its group, instances and nodes)
// and waits until it is gone.
func (r *nodePoolResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	if notConfigured(r.data, &resp.Diagnostics) {
		return
	}
	var state nodePoolModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	name := state.Name.ValueString()
	if err := r.data.client.DeletePool(ctx, name); err != nil && !isNotFound(err) {
		addAPIError(&resp.Diagnostics, "Cannot delete node pool "+name, err)
		return
	}
	ctx, cancel := context.WithTimeout(ctx, r.data.poolWait)
	defer cancel()
	for {
		p, err := r.data.client.GetPool(ctx, name)
		switch {
		case isNotFound(err):
			tflog.Info(ctx, "node pool deleted", map[string]any{"pool": name})
			return
		case err != nil && ctx.Err() == nil:
			addAPIError(&resp.Diagnostics, "Cannot read node pool "+name+" while deleting it", err)
			return
		}
		select {
		case <-ctx.Done():
			resp.Diagnostics.AddError("Node pool "+name+" is not gone",
				fmt.Sprintf("The pool was still there %s after deleting it (status: %q).", r.data.poolWait, p.Status))
			return
		case <-time.After(r.poll):
		}
	}
}

// ImportState implements resource.ResourceWithImportState: the ID is the pool's name.
func (r *nodePoolResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	if !nameRE.MatchString(req.ID) {
		resp.Diagnostics.AddError("Invalid import ID", fmt.Sprintf("%q: use the node pool's name", req.ID))
		return
	}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), req.ID)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("name"), req.ID)...)
}

// waitSize polls the pool until its ready nodes number its desired size, ctx ends, or the wait
// passes. It returns the last pool read.
func (r *nodePoolResource) waitSize(ctx context.Context, p api.Pool) (api.Pool, error) {
	ctx, cancel := context.WithTimeout(ctx, r.data.poolWait)
	defer cancel()
	for p.Size != p.Spec.DesiredSize {
		select {
		case <-ctx.Done():
			return p, fmt.Errorf("%d of %d node(s) ready after %s (status: %q%s); the pool is kept and marked tainted: "+
				"fix the cause, then apply again", p.Size, p.Spec.DesiredSize, r.data.poolWait, p.Status, r.lastWarning(p.Name))
		case <-time.After(r.poll):
		}
		q, err := r.data.client.GetPool(ctx, p.Name)
		if err != nil {
			if ctx.Err() != nil {
				continue
			}
			return p, fmt.Errorf("reading the pool while waiting for its nodes: %w", err)
		}
		p = q
	}
	return p, nil
}

// lastWarning returns the pool's latest warning event as ", last warning: …", or "".
func (r *nodePoolResource) lastWarning(pool string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	events, err := r.data.client.PoolEvents(ctx, pool)
	if err != nil {
		return ""
	}
	for i := len(events) - 1; i >= 0; i-- {
		if e := events[i]; e.Type == "Warning" {
			return fmt.Sprintf(", last warning: %s: %s (%d times)", e.Reason, e.Message, e.Count)
		}
	}
	return ""
}

// spec is the pool's spec as the API takes it.
func (m *nodePoolModel) spec(ctx context.Context, diags *diag.Diagnostics) api.PoolSpec {
	s := api.PoolSpec{
		Cloud: m.Cloud.ValueString(), Account: m.Account.ValueString(), Region: m.Region.ValueString(), Zones: listStrings(ctx, m.Zones, diags),
		InstanceType: m.InstanceType.ValueString(), FallbackInstanceTypes: listStrings(ctx, m.Fallbacks, diags), Image: m.Image.ValueString(), Spot: m.Spot.ValueBool(), MinIsolation: m.MinIsolation.ValueString(),
		GPUType: m.GPUType.ValueString(), GPUCount: int(m.GPUCount.ValueInt64()),
		MinSize: int(m.MinSize.ValueInt64()), MaxSize: int(m.MaxSize.ValueInt64()), DesiredSize: int(m.DesiredSize.ValueInt64()),
	}
	if !m.Labels.IsNull() && !m.Labels.IsUnknown() {
		diags.Append(m.Labels.ElementsAs(ctx, &s.Labels, false)...)
	}
	return s
}

// setFromAPI sets m from the control plane's pool.
func (m *nodePoolModel) setFromAPI(p api.Pool, diags *diag.Diagnostics) {
	prior := *m
	s := p.Spec
	m.ID, m.Name, m.Cloud = types.StringValue(p.Name), types.StringValue(p.Name), types.StringValue(s.Cloud)
	m.Account = stringOrNull(s.Account, prior.Account)
	m.Region = stringOrNull(s.Region, prior.Region)
	m.Zones = stringList(s.Zones, prior.Zones, diags)
	m.InstanceType = stringOrNull(s.InstanceType, prior.InstanceType)
	m.Fallbacks = stringList(s.FallbackInstanceTypes, prior.Fallbacks, diags)
	m.Image = stringOrNull(s.Image, prior.Image)
	m.GPUType = stringOrNull(s.GPUType, prior.GPUType)
	m.GPUCount = int64OrNull(s.GPUCount, prior.GPUCount)
	m.Spot = types.BoolValue(s.Spot)
	m.MinIsolation = stringOrNull(s.MinIsolation, prior.MinIsolation)
	m.MinSize, m.MaxSize, m.DesiredSize = types.Int64Value(int64(s.MinSize)), types.Int64Value(int64(s.MaxSize)), types.Int64Value(int64(s.DesiredSize))
	m.Labels = stringMap(s.Labels, prior.Labels, diags)
	m.Size = types.Int64Value(int64(p.Size))
	ids := p.NodeIDs
	if ids == nil {
		ids = []string{}
	}
	m.NodeIDs = stringList(ids, types.ListValueMust(types.StringType, nil), diags)
	m.Status = types.StringValue(p.Status)
}
