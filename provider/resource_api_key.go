package provider

import (
	"context"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/boolplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/listdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/listplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/algos-dev/algos/api"
)

var (
	_ resource.ResourceWithConfigure   = (*apiKeyResource)(nil)
	_ resource.ResourceWithImportState = (*apiKeyResource)(nil)
)

// apiKeyResource is algos_api_key. Keys cannot change: every argument replaces the key.
type apiKeyResource struct {
	data *clientData
}

func newAPIKeyResource() resource.Resource { return &apiKeyResource{} }

// apiKeyModel is algos_api_key's state.
type apiKeyModel struct {
	ID         types.String `tfsdk:"id"`
	Name       types.String `tfsdk:"name"`
	Algorithms types.List   `tfsdk:"algorithms"`
	Data       types.String `tfsdk:"data"`
	Manage     types.Bool   `tfsdk:"manage"`
	ExpiresAt  types.String `tfsdk:"expires_at"`
	Owner      types.String `tfsdk:"owner"`
	Prefix     types.String `tfsdk:"prefix"`
	CreatedAt  types.String `tfsdk:"created_at"`
	Secret     types.String `tfsdk:"secret"`
}

// Metadata implements resource.Resource.
func (r *apiKeyResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_api_key"
}

// Schema implements resource.Resource.
func (r *apiKeyResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	keep := []planmodifier.String{stringplanmodifier.UseStateForUnknown()}
	resp.Schema = schema.Schema{
		MarkdownDescription: "An API key of the provider key's account, with its scopes. `name` and `expires_at` change in " +
			"place; the scopes (`algorithms`, `data`, `manage`) cannot change: changing one revokes the key and creates a new " +
			"one (with a new `secret`). Destroying it revokes it at once.\n\n" +
			"Import with the key's ID (`key_…`, as `algos key list` shows it). The secret is shown only when a key is " +
			"created, so an imported key has no `secret` (null).",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				MarkdownDescription: "The key's ID (`key_…`), not secret.",
				Computed:            true,
				PlanModifiers:       keep,
			},
			"name": schema.StringAttribute{
				MarkdownDescription: "A name to recognise the key by. Changes in place.",
				Optional:            true,
			},
			"algorithms": schema.ListAttribute{
				MarkdownDescription: "Algorithms the key may call: `algo://*` (all, the default), `algo://owner/*` or `algo://owner/name/*`.",
				Optional:            true,
				Computed:            true,
				ElementType:         types.StringType,
				Default:             listdefault.StaticValue(types.ListValueMust(types.StringType, []attr.Value{types.StringValue("algo://*")})),
				Validators: []validator.List{
					listvalidator.SizeAtLeast(1),
					listvalidator.ValueStringsAre(stringvalidator.RegexMatches(scopeRE, "must be algo://*, algo://owner/* or algo://owner/name/*")),
				},
				PlanModifiers: []planmodifier.List{listplanmodifier.RequiresReplace()},
			},
			"data": schema.StringAttribute{
				MarkdownDescription: "Access to the Data API: `none` (default), `read` or `write`.",
				Optional:            true,
				Computed:            true,
				Default:             stringdefault.StaticString("none"),
				Validators:          []validator.String{stringvalidator.OneOf("none", "read", "write")},
				PlanModifiers:       []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"manage": schema.BoolAttribute{
				MarkdownDescription: "Whether the key may manage algorithms, keys and (for an administrator) node pools. Default `false`.",
				Optional:            true,
				Computed:            true,
				Default:             booldefault.StaticBool(false),
				PlanModifiers:       []planmodifier.Bool{boolplanmodifier.RequiresReplace()},
			},
			"expires_at": schema.StringAttribute{
				MarkdownDescription: "When the key stops working, in RFC 3339 format (e.g. `2030-01-02T15:04:05Z`). Default: never. Changes in place.",
				Optional:            true,
				Validators:          []validator.String{rfc3339Validator{}},
			},
			"owner": schema.StringAttribute{
				MarkdownDescription: "The account the key acts for: the provider key's account.",
				Computed:            true,
				PlanModifiers:       keep,
			},
			"prefix": schema.StringAttribute{
				MarkdownDescription: "The first characters of the secret, to recognise it by.",
				Computed:            true,
				PlanModifiers:       keep,
			},
			"created_at": schema.StringAttribute{
				MarkdownDescription: "When the key was created (RFC 3339).",
				Computed:            true,
				PlanModifiers:       keep,
			},
			"secret": schema.StringAttribute{
				MarkdownDescription: "The key itself, to send as `Authorization: Simple <secret>`. Known only to the Terraform run that created the key; null after an import.",
				Computed:            true,
				Sensitive:           true,
				PlanModifiers:       keep,
			},
		},
	}
}

// Configure implements resource.ResourceWithConfigure.
func (r *apiKeyResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.data = clientFrom(req.ProviderData, &resp.Diagnostics)
}

// Create implements resource.Resource.
func (r *apiKeyResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	if notConfigured(r.data, &resp.Diagnostics) {
		return
	}
	var plan apiKeyModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	in := api.CreateKey{Name: plan.Name.ValueString(), Algorithms: listStrings(ctx, plan.Algorithms, &resp.Diagnostics),
		Data: plan.Data.ValueString(), Manage: plan.Manage.ValueBool()}
	if s := plan.ExpiresAt.ValueString(); s != "" {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			resp.Diagnostics.AddAttributeError(path.Root("expires_at"), "Invalid time", err.Error())
			return
		}
		in.ExpiresAt = &t
	}
	if resp.Diagnostics.HasError() {
		return
	}
	k, err := r.data.client.CreateKey(ctx, in)
	if err != nil {
		addAPIError(&resp.Diagnostics, "Cannot create API key", err)
		return
	}
	tflog.Info(ctx, "API key created", map[string]any{"key_id": k.ID})
	plan.setFromAPI(k, &resp.Diagnostics)
	plan.Secret = types.StringValue(k.Secret)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

// Read implements resource.Resource. A key revoked or deleted outside Terraform is removed from
// the state, so the plan creates a new one.
func (r *apiKeyResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	if notConfigured(r.data, &resp.Diagnostics) {
		return
	}
	var state apiKeyModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	id := state.ID.ValueString()
	k, err := r.data.client.GetKey(ctx, id)
	if isNotFound(err) || (err == nil && k.RevokedAt != nil) {
		tflog.Warn(ctx, "API key is gone or revoked: removing it from the state", map[string]any{"key_id": id})
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		addAPIError(&resp.Diagnostics, "Cannot read API key "+id, err)
		return
	}
	state.setFromAPI(k, &resp.Diagnostics)
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

// Update implements resource.Resource: the name and expiry change in place (every other
// argument replaces the key).
func (r *apiKeyResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	if notConfigured(r.data, &resp.Diagnostics) {
		return
	}
	var plan, state apiKeyModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	in := api.UpdateKey{Name: plan.Name.ValueString()}
	if s := plan.ExpiresAt.ValueString(); s != "" {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			resp.Diagnostics.AddAttributeError(path.Root("expires_at"), "Invalid time", err.Error())
			return
		}
		in.ExpiresAt = &t
	}
	id := state.ID.ValueString()
	k, err := r.data.client.UpdateKey(ctx, id, in)
	if err != nil {
		addAPIError(&resp.Diagnostics, "Cannot update API key "+id, err)
		return
	}
	plan.setFromAPI(k, &resp.Diagnostics)
	plan.Secret = state.Secret
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

// Delete implements resource.Resource: it revokes the key (idempotent).
func (r *apiKeyResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	if notConfigured(r.data, &resp.Diagnostics) {
		return
	}
	var state apiKeyModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	id := state.ID.ValueString()
	if err := r.data.client.RevokeKey(ctx, id); err != nil && !isNotFound(err) {
		addAPIError(&resp.Diagnostics, "Cannot revoke API key "+id, err)
		return
	}
	tflog.Info(ctx, "API key revoked", map[string]any{"key_id": id})
}

// ImportState implements resource.ResourceWithImportState: the ID is the key's ID.
func (r *apiKeyResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	if req.ID == "" {
		resp.Diagnostics.AddError("Invalid import ID", "use the key's ID (key_…), as `algos key list` shows it")
		return
	}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), req.ID)...)
}

// setFromAPI sets m from the control plane's key; the secret is left as it is.
func (m *apiKeyModel) setFromAPI(k api.Key, diags *diag.Diagnostics) {
	prior := *m
	m.ID, m.Owner, m.Prefix = types.StringValue(k.ID), types.StringValue(k.Owner), types.StringValue(k.Prefix)
	m.Name = stringOrNull(k.Name, prior.Name)
	m.Algorithms = stringList(k.Algorithms, prior.Algorithms, diags)
	m.Data = types.StringValue(k.Data)
	m.Manage = types.BoolValue(k.Manage)
	m.CreatedAt = types.StringValue(k.CreatedAt.UTC().Format(time.RFC3339))
	switch {
	case k.ExpiresAt == nil:
		m.ExpiresAt = types.StringNull()
	case sameInstant(prior.ExpiresAt, *k.ExpiresAt):
		// keep the configuration's spelling (time zone, fraction) of the same instant
	default:
		m.ExpiresAt = types.StringValue(k.ExpiresAt.UTC().Format(time.RFC3339))
	}
	if m.Secret.IsUnknown() {
		m.Secret = types.StringNull()
	}
}

// sameInstant reports whether s is an RFC 3339 time equal to t (to the second).
func sameInstant(s types.String, t time.Time) bool {
	if s.IsNull() || s.IsUnknown() {
		return false
	}
	p, err := time.Parse(time.RFC3339, s.ValueString())
	return err == nil && p.Truncate(time.Second).Equal(t.Truncate(time.Second))
}
