package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/algos-dev/algos/api"
)

var _ datasource.DataSourceWithConfigure = (*algorithmDataSource)(nil)

// algorithmDataSource is data.algos_algorithm: resolves a version range of an algorithm.
type algorithmDataSource struct {
	data *clientData
}

func newAlgorithmDataSource() datasource.DataSource { return &algorithmDataSource{} }

type algorithmDataModel struct {
	ID              types.String `tfsdk:"id"`
	Owner           types.String `tfsdk:"owner"`
	Name            types.String `tfsdk:"name"`
	Version         types.String `tfsdk:"version"`
	ResolvedVersion types.String `tfsdk:"resolved_version"`
	Runtime         types.String `tfsdk:"runtime"`
	Digest          types.String `tfsdk:"digest"`
	Visibility      types.String `tfsdk:"visibility"`
}

// Metadata implements datasource.DataSource.
func (d *algorithmDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_algorithm"
}

// Schema implements datasource.DataSource.
func (d *algorithmDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Resolves a version range of an algorithm (`1.2.3`, `1.2.*`, `1.*` or `latest`) to the exact version " +
			"a call with that range runs now, as the provider's key sees it (private versions only for their owner). " +
			"Use `resolved_version` to pin callers to a version.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				MarkdownDescription: "`owner/name/resolved_version`.",
				Computed:            true,
			},
			"owner": schema.StringAttribute{
				MarkdownDescription: "The algorithm's owner. Defaults to the account of the provider's API key.",
				Optional:            true,
				Computed:            true,
				Validators:          []validator.String{nameValidator()},
			},
			"name": schema.StringAttribute{
				MarkdownDescription: "The algorithm's name.",
				Required:            true,
				Validators:          []validator.String{nameValidator()},
			},
			"version": schema.StringAttribute{
				MarkdownDescription: "The range to resolve: an exact semantic version `1.2.3`, `1.2.*`, `1.*` or `latest` (the default).",
				Optional:            true,
				Validators: []validator.String{stringvalidator.RegexMatches(versionRangeRE,
					"must be an exact semantic version such as 1.2.3, a range 1.2.* or 1.*, or latest")},
			},
			"resolved_version": schema.StringAttribute{
				MarkdownDescription: "The exact version the range selects, e.g. `1.2.3`.",
				Computed:            true,
			},
			"runtime": schema.StringAttribute{
				MarkdownDescription: "The resolved version's runtime: `python`, `go` or `exec`.",
				Computed:            true,
			},
			"digest": schema.StringAttribute{
				MarkdownDescription: "Digest (`sha256:…`) of the resolved version's source artifact.",
				Computed:            true,
			},
			"visibility": schema.StringAttribute{
				MarkdownDescription: "The resolved version's visibility: `public` or `private`.",
				Computed:            true,
			},
		},
	}
}

// Configure implements datasource.DataSourceWithConfigure.
func (d *algorithmDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	d.data = clientFrom(req.ProviderData, &resp.Diagnostics)
}

// Read implements datasource.DataSource.
func (d *algorithmDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	if notConfigured(d.data, &resp.Diagnostics) {
		return
	}
	var m algorithmDataModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if m.Owner.IsNull() {
		m.Owner = types.StringValue(d.data.account.Name)
	}
	owner, name, spec := m.Owner.ValueString(), m.Name.ValueString(), m.Version.ValueString()
	if spec == "" {
		spec = "latest"
	}
	v, err := d.data.client.ResolveVersion(ctx, owner, name, spec)
	if err != nil {
		addAPIError(&resp.Diagnostics, "Cannot resolve version "+spec+" of "+owner+"/"+name, err)
		return
	}
	m.ID = types.StringValue(owner + "/" + name + "/" + v.Version)
	m.ResolvedVersion = types.StringValue(v.Version)
	m.Runtime = types.StringValue(v.Manifest.Runtime)
	m.Digest = types.StringValue(v.Digest)
	m.Visibility = types.StringValue(v.Visibility)
	if v.Visibility == "" {
		m.Visibility = types.StringValue(api.Public)
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}
