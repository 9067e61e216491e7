package provider

import (
	"bytes"
	"context"
	"fmt"
	"reflect"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-validators/float64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/algos-dev/algos/api"
)

var (
	_ resource.ResourceWithConfigure      = (*algorithmResource)(nil)
	_ resource.ResourceWithImportState    = (*algorithmResource)(nil)
	_ resource.ResourceWithModifyPlan     = (*algorithmResource)(nil)
	_ resource.ResourceWithValidateConfig = (*algorithmResource)(nil)
)

// algorithmResource is algos_algorithm: an algorithm, its settings, and the versions published
// from a local source directory.
type algorithmResource struct {
	data *clientData
}

func newAlgorithmResource() resource.Resource { return &algorithmResource{} }

// Metadata implements resource.Resource.
func (r *algorithmResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_algorithm"
}

// Schema implements resource.Resource.
func (r *algorithmResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "An algorithm, its settings, and the versions published from a local source directory. " +
			"Terraform tracks the content hash of `source`: when a file changes, the plan shows `source_hash` changing and " +
			"applying it publishes a new version (bumped by `version_bump`). Operational settings (`resources`, `scaling`, " +
			"`timeout`, `price_per_call`, `node_pool`) change in place and take effect for calls at once; a change of " +
			"`runtime`, `entrypoint` or `output` also publishes a new version, since published versions are immutable. " +
			"A manifest (`algorithm.json`) in the source directory overrides these settings for the versions published from it.\n\n" +
			"Import with the ID `owner/name`; `source` is not known to the control plane, so set it in the configuration: " +
			"the next plan publishes only if its content differs from the latest version.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				MarkdownDescription: "The algorithm's ID: `owner/name`.",
				Computed:            true,
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"owner": schema.StringAttribute{
				MarkdownDescription: "The account that owns the algorithm. Defaults to the account of the provider's API key. Changing it creates a new algorithm.",
				Optional:            true,
				Computed:            true,
				Validators:          []validator.String{nameValidator()},
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown(), stringplanmodifier.RequiresReplace()},
			},
			"name": schema.StringAttribute{
				MarkdownDescription: "The algorithm's name: 1 to 64 letters, digits, `-` or `_`, starting with a letter. It is part of the call URL `/v1/algo/owner/name`. Changing it creates a new algorithm.",
				Required:            true,
				Validators:          []validator.String{nameValidator()},
				PlanModifiers:       []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"description": schema.StringAttribute{
				MarkdownDescription: "A line on what the algorithm does.",
				Optional:            true,
			},
			"runtime": schema.StringAttribute{
				MarkdownDescription: "How the source runs: `python` (a file defining `apply(input)`), `go` (a package built with the algos Go SDK) or `exec` (a command run per call). A change publishes a new version.",
				Required:            true,
				Validators:          []validator.String{stringvalidator.OneOf(api.RuntimePython, api.RuntimeGo, api.RuntimeExec)},
			},
			"entrypoint": schema.ListAttribute{
				MarkdownDescription: "python: the file defining `apply` (default `main.py`); go: the package to build (default `.`); exec: the command line run per call, e.g. `[\"./wc.sh\", \"-l\"]`. A change publishes a new version.",
				Optional:            true,
				ElementType:         types.StringType,
				Validators:          []validator.List{listvalidator.SizeAtLeast(1), listvalidator.ValueStringsAre(stringvalidator.LengthAtLeast(1))},
			},
			"output": schema.StringAttribute{
				MarkdownDescription: "How an `exec` algorithm's standard output becomes the result: `auto` (default: JSON if it parses, else text), `json`, `text` or `binary`. Only for `runtime = \"exec\"`. A change publishes a new version.",
				Optional:            true,
				Validators:          []validator.String{stringvalidator.OneOf("auto", api.ContentJSON, api.ContentText, api.ContentBinary)},
			},
			"visibility": schema.StringAttribute{
				MarkdownDescription: "`public` (any key may call it) or `private` (only the owner's keys). Applies to the versions published from then on. Default `public`.",
				Optional:            true,
				Computed:            true,
				Default:             stringdefault.StaticString(api.Public),
				Validators:          []validator.String{stringvalidator.OneOf(api.Public, api.Private)},
			},
			"resources": schema.SingleNestedAttribute{
				MarkdownDescription: "What one worker needs; a node runs a worker only where these fit. Changes take effect at once.",
				Optional:            true,
				Attributes: map[string]schema.Attribute{
					"cpu": schema.Float64Attribute{
						MarkdownDescription: "CPU cores, e.g. `0.5`.",
						Optional:            true,
						Validators:          []validator.Float64{float64validator.AtLeast(0)},
					},
					"memory_mib": schema.Int64Attribute{
						MarkdownDescription: "Memory in MiB.",
						Optional:            true,
						Validators:          []validator.Int64{int64validator.AtLeast(0)},
					},
					"gpu_count": schema.Int64Attribute{
						MarkdownDescription: "GPUs per worker.",
						Optional:            true,
						Validators:          []validator.Int64{int64validator.AtLeast(0)},
					},
					"gpu_memory_mib": schema.Int64Attribute{
						MarkdownDescription: "GPU memory per worker in MiB.",
						Optional:            true,
						Validators:          []validator.Int64{int64validator.AtLeast(0)},
					},
				},
			},
			"scaling": schema.SingleNestedAttribute{
				MarkdownDescription: "How the workers of the algorithm's versions scale on each node. Changes take effect at once.",
				Optional:            true,
				Attributes: map[string]schema.Attribute{
					"min_instances": schema.Int64Attribute{
						MarkdownDescription: "Workers kept warm (default 0: scale to zero).",
						Optional:            true,
						Validators:          []validator.Int64{int64validator.AtLeast(0)},
					},
					"max_instances": schema.Int64Attribute{
						MarkdownDescription: "Most workers of one version on one node (default 4).",
						Optional:            true,
						Validators:          []validator.Int64{int64validator.AtLeast(1)},
					},
					"idle_timeout": schema.StringAttribute{
						MarkdownDescription: "A worker idle this long is stopped: a Go duration such as `30s` or `5m` (default `5m`).",
						Optional:            true,
						Validators:          []validator.String{durationValidator{}},
					},
					"target_concurrency": schema.Int64Attribute{
						MarkdownDescription: "Calls in flight per worker that the autoscaler aims at.",
						Optional:            true,
						Validators:          []validator.Int64{int64validator.AtLeast(0)},
					},
					"queue_size": schema.Int64Attribute{
						MarkdownDescription: "Calls that may wait for a worker on one node before calls are refused with 429 (default 100).",
						Optional:            true,
						Validators:          []validator.Int64{int64validator.AtLeast(0)},
					},
					"predictive": schema.BoolAttribute{
						MarkdownDescription: "Start workers (and nodes) ahead of a peak that recurs at the same time of day, from the last days' calls (default `true`).",
						Optional:            true,
					},
				},
			},
			"timeout": schema.Int64Attribute{
				MarkdownDescription: "Default call timeout in seconds, 1 to 3000 (default 300). Takes effect at once.",
				Optional:            true,
				Validators:          []validator.Int64{int64validator.Between(1, 3000)},
			},
			"node_pool": schema.StringAttribute{
				MarkdownDescription: "Run the workers only on the nodes of this node pool (default: any pool). Takes effect at once.",
				Optional:            true,
				Validators:          []validator.String{nameValidator()},
			},
			"network": schema.BoolAttribute{
				MarkdownDescription: "Give the workers the node's network. Without it a sandboxed worker reaches only its node's agent: other algorithms and the Data API (default `false`).",
				Optional:            true,
			},
			"call_other_algorithms": schema.BoolAttribute{
				MarkdownDescription: "Whether the algorithm may call other algorithms from its workers (default `true`).",
				Optional:            true,
			},
			"price_per_call": schema.Float64Attribute{
				MarkdownDescription: "Credits charged per call (a royalty to the owner), at least 0. Takes effect at once.",
				Optional:            true,
				Validators:          []validator.Float64{float64validator.AtLeast(0)},
			},
			"source": schema.StringAttribute{
				MarkdownDescription: "The local directory holding the algorithm's source (and optionally its `algorithm.json`). Relative paths are relative to where Terraform runs: use `\"${path.module}/…\"`. Its content is packed as `algos algo publish` does (`.git`, `__pycache__`, virtualenvs and `.terraform` left out); symbolic links are refused.",
				Required:            true,
				Validators:          []validator.String{stringvalidator.LengthAtLeast(1)},
			},
			"source_hash": schema.StringAttribute{
				MarkdownDescription: "Digest (`sha256:…`) of the packed `source`, computed at plan time; after a refresh it is the digest of the latest published version, so a version published outside Terraform shows as drift and the next apply publishes `source` again.",
				Computed:            true,
				PlanModifiers:       []planmodifier.String{sourceHashModifier{}},
			},
			"version_bump": schema.StringAttribute{
				MarkdownDescription: "Which part of the version a publish increments: `major`, `minor` (default) or `patch`. The first version is always `1.0.0`. Changing it alone publishes nothing.",
				Optional:            true,
				Computed:            true,
				Default:             stringdefault.StaticString(api.BumpMinor),
				Validators:          []validator.String{stringvalidator.OneOf(api.BumpMajor, api.BumpMinor, api.BumpPatch)},
			},
			"version": schema.StringAttribute{
				MarkdownDescription: "The version this resource last published (after an import: the latest version). Unknown in a plan that publishes.",
				Computed:            true,
			},
			"latest_version": schema.StringAttribute{
				MarkdownDescription: "The algorithm's latest version, whoever published it.",
				Computed:            true,
			},
		},
	}
}

// Configure implements resource.ResourceWithConfigure.
func (r *algorithmResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.data = clientFrom(req.ProviderData, &resp.Diagnostics)
}

// ValidateConfig implements resource.ResourceWithValidateConfig.
func (r *algorithmResource) ValidateConfig(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	var runtime, output types.String
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("runtime"), &runtime)...)
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("output"), &output)...)
	if !runtime.IsUnknown() && !runtime.IsNull() && runtime.ValueString() != api.RuntimeExec && !output.IsNull() && !output.IsUnknown() {
		resp.Diagnostics.AddAttributeError(path.Root("output"), "output is for exec algorithms only",
			fmt.Sprintf("runtime is %q: remove output, or use runtime = \"exec\".", runtime.ValueString()))
	}
	var lo, hi types.Int64
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("scaling").AtName("min_instances"), &lo)...)
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("scaling").AtName("max_instances"), &hi)...)
	if !lo.IsNull() && !lo.IsUnknown() && !hi.IsNull() && !hi.IsUnknown() && lo.ValueInt64() > hi.ValueInt64() {
		resp.Diagnostics.AddAttributeError(path.Root("scaling").AtName("min_instances"), "min_instances is above max_instances",
			fmt.Sprintf("min_instances %d must not be above max_instances %d.", lo.ValueInt64(), hi.ValueInt64()))
	}
}

// ModifyPlan implements resource.ResourceWithModifyPlan: it fills the owner (the key's account)
// and the ID at plan time, and plans version and latest_version: unknown when the apply
// publishes, else as they are.
func (r *algorithmResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() {
		return // destroy
	}
	var owner, name types.String
	resp.Diagnostics.Append(resp.Plan.GetAttribute(ctx, path.Root("owner"), &owner)...)
	resp.Diagnostics.Append(resp.Plan.GetAttribute(ctx, path.Root("name"), &name)...)
	if owner.IsUnknown() && r.data != nil {
		owner = types.StringValue(r.data.account.Name)
		resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("owner"), owner)...)
	}
	if !owner.IsUnknown() && !name.IsUnknown() {
		resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("id"), owner.ValueString()+"/"+name.ValueString())...)
	}
	if req.State.Raw.IsNull() || resp.Diagnostics.HasError() {
		return // create: version and latest_version stay unknown
	}
	publish, diags := publishPlanned(ctx, resp.Plan, req.State)
	resp.Diagnostics.Append(diags...)
	if publish {
		resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("version"), types.StringUnknown())...)
		resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("latest_version"), types.StringUnknown())...)
		return
	}
	for _, attr := range []string{"version", "latest_version"} {
		var v types.String
		resp.Diagnostics.Append(req.State.GetAttribute(ctx, path.Root(attr), &v)...)
		resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root(attr), v)...)
	}
}

// Create implements resource.Resource: it creates the algorithm with its settings and publishes
// the source as 1.0.0. If the publish fails the algorithm is deleted again, so that the next
// apply starts afresh.
func (r *algorithmResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	if notConfigured(r.data, &resp.Diagnostics) {
		return
	}
	var plan algorithmModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if plan.Owner.IsUnknown() || plan.Owner.IsNull() {
		plan.Owner = types.StringValue(r.data.account.Name)
	}
	owner, name := plan.Owner.ValueString(), plan.Name.ValueString()
	ctx = tflog.SetField(ctx, "algorithm", owner+"/"+name)
	settings := plan.settings(ctx, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	if _, err := r.data.client.CreateAlgorithm(ctx, owner, api.CreateAlgorithm{Name: name, Description: settings.Description, Settings: settings}); err != nil {
		if isConflict(err) {
			resp.Diagnostics.AddError("Algorithm exists already",
				fmt.Sprintf("%s/%s exists on the control plane. Import it instead: terraform import <address> %s/%s", owner, name, owner, name))
			return
		}
		addAPIError(&resp.Diagnostics, "Cannot create algorithm "+owner+"/"+name, err)
		return
	}
	tflog.Info(ctx, "algorithm created")
	if !r.publish(ctx, &plan, &resp.Diagnostics) {
		if err := r.data.client.DeleteAlgorithm(ctx, owner, name); err != nil {
			resp.Diagnostics.AddWarning("Cannot roll back the algorithm", fmt.Sprintf("The first version failed to publish, and deleting %s/%s again failed too: %v. Delete it with `algos algo delete` or import it.", owner, name, err))
		}
		return
	}
	plan.ID = types.StringValue(owner + "/" + name)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

// Read implements resource.Resource. An algorithm deleted outside Terraform is removed from the
// state, so the plan creates it again.
func (r *algorithmResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	if notConfigured(r.data, &resp.Diagnostics) {
		return
	}
	var state algorithmModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	owner, name := state.Owner.ValueString(), state.Name.ValueString()
	a, err := r.data.client.GetAlgorithm(ctx, owner, name)
	if isNotFound(err) {
		tflog.Warn(ctx, "algorithm is gone: removing it from the state", map[string]any{"algorithm": owner + "/" + name})
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		addAPIError(&resp.Diagnostics, "Cannot read algorithm "+owner+"/"+name, err)
		return
	}
	state.setFromAPI(a, &resp.Diagnostics)
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

// Update implements resource.Resource: changed description or settings are written in place;
// a changed source (or runtime, entrypoint, output) is published as a new version.
func (r *algorithmResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	if notConfigured(r.data, &resp.Diagnostics) {
		return
	}
	var plan, state algorithmModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	owner, name := state.Owner.ValueString(), state.Name.ValueString()
	ctx = tflog.SetField(ctx, "algorithm", owner+"/"+name)
	newSettings, oldSettings := plan.settings(ctx, &resp.Diagnostics), state.settings(ctx, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	if !reflect.DeepEqual(newSettings, oldSettings) {
		if _, err := r.data.client.UpdateAlgorithm(ctx, owner, name, api.CreateAlgorithm{Name: name, Description: newSettings.Description, Settings: newSettings}); err != nil {
			addAPIError(&resp.Diagnostics, "Cannot update algorithm "+owner+"/"+name, err)
			return
		}
		tflog.Info(ctx, "algorithm settings updated")
	}
	publish, diags := publishPlanned(ctx, req.Plan, req.State)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	plan.ID, plan.Owner = state.ID, state.Owner
	if publish {
		if !r.publish(ctx, &plan, &resp.Diagnostics) {
			return
		}
	} else {
		plan.Version, plan.LatestVersion, plan.SourceHash = state.Version, state.LatestVersion, state.SourceHash
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

// Delete implements resource.Resource. Deleting removes every version of the algorithm.
func (r *algorithmResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	if notConfigured(r.data, &resp.Diagnostics) {
		return
	}
	var state algorithmModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	owner, name := state.Owner.ValueString(), state.Name.ValueString()
	if err := r.data.client.DeleteAlgorithm(ctx, owner, name); err != nil && !isNotFound(err) {
		addAPIError(&resp.Diagnostics, "Cannot delete algorithm "+owner+"/"+name, err)
		return
	}
	tflog.Info(ctx, "algorithm deleted", map[string]any{"algorithm": owner + "/" + name})
}

// ImportState implements resource.ResourceWithImportState. The ID is `owner/name`, or `name`
// for an algorithm of the provider key's account.
func (r *algorithmResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	owner, name, ok := strings.Cut(req.ID, "/")
	if !ok {
		if r.data == nil {
			resp.Diagnostics.AddError("Invalid import ID", fmt.Sprintf("%q: use owner/name", req.ID))
			return
		}
		owner, name = r.data.account.Name, req.ID
	}
	if !nameRE.MatchString(owner) || !nameRE.MatchString(name) {
		resp.Diagnostics.AddError("Invalid import ID", fmt.Sprintf("%q: use owner/name, e.g. demo/hello-python", req.ID))
		return
	}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), owner+"/"+name)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("owner"), owner)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("name"), name)...)
}

// publish packs the source, checks it is what the plan showed, and publishes it as the next
// version; it records the version in m.
func (r *algorithmResource) publish(ctx context.Context, m *algorithmModel, diags *diag.Diagnostics) bool {
	owner, name, dir := m.Owner.ValueString(), m.Name.ValueString(), m.Source.ValueString()
	art, digest, err := api.PackSource(dir)
	if err != nil {
		diags.AddAttributeError(path.Root("source"), "Cannot pack the source directory", err.Error())
		return false
	}
	if planned := m.SourceHash; !planned.IsUnknown() && !planned.IsNull() && planned.ValueString() != digest {
		diags.AddAttributeError(path.Root("source"), "The source directory changed after the plan",
			fmt.Sprintf("%s packs to %s now, but the plan showed %s: run terraform plan again.", dir, digest, planned.ValueString()))
		return false
	}
	v, err := r.data.client.PublishVersion(ctx, owner, name, bytes.NewReader(art),
		api.PublishOptions{Bump: m.VersionBump.ValueString(), Visibility: m.Visibility.ValueString()})
	if err != nil {
		addAPIError(diags, "Cannot publish a version of "+owner+"/"+name+" from "+dir, err)
		return false
	}
	tflog.Info(ctx, "version published", map[string]any{"version": v.Version, "digest": v.Digest})
	m.Version, m.LatestVersion, m.SourceHash = types.StringValue(v.Version), types.StringValue(v.Version), types.StringValue(digest)
	return true
}
