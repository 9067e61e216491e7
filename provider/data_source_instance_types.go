package provider

import (
	"context"
	"sort"

	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/algos-dev/algos/api"
)

var _ datasource.DataSourceWithConfigure = (*instanceTypesDataSource)(nil)

// instanceTypesDataSource is data.algos_instance_types: what the configured clouds sell.
type instanceTypesDataSource struct {
	data *clientData
}

func newInstanceTypesDataSource() datasource.DataSource { return &instanceTypesDataSource{} }

type instanceTypesModel struct {
	Cloud         types.String        `tfsdk:"cloud"`
	Region        types.String        `tfsdk:"region"`
	GPUModel      types.String        `tfsdk:"gpu_model"`
	MinGPUs       types.Int64         `tfsdk:"min_gpus"`
	MinMemoryMiB  types.Int64         `tfsdk:"min_memory_mib"`
	InstanceTypes []instanceTypeModel `tfsdk:"instance_types"`
}

type instanceTypeModel struct {
	Cloud        types.String   `tfsdk:"cloud"`
	Name         types.String   `tfsdk:"name"`
	VCPU         types.Int64    `tfsdk:"vcpu"`
	MemoryMiB    types.Int64    `tfsdk:"memory_mib"`
	GPUModel     types.String   `tfsdk:"gpu_model"`
	GPUCount     types.Int64    `tfsdk:"gpu_count"`
	GPUMemoryMiB types.Int64    `tfsdk:"gpu_memory_mib"`
	PricePerHour types.Float64  `tfsdk:"price_per_hour"`
	Zones        []types.String `tfsdk:"zones"`
	Spot         types.Bool     `tfsdk:"spot"`
}

// Metadata implements datasource.DataSource.
func (d *instanceTypesDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_instance_types"
}

// Schema implements datasource.DataSource.
func (d *instanceTypesDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Lists the instance types of the clouds the control plane has configured, filtered: pick a type for an `algos_node_pool`.",
		Attributes: map[string]schema.Attribute{
			"cloud": schema.StringAttribute{
				MarkdownDescription: "Only this cloud: `local`, `aws`, `gcp`, `azure` or `openstack` (it must be configured on the control plane).",
				Optional:            true,
				Validators:          []validator.String{stringvalidator.OneOf(cloudNames...)},
			},
			"region": schema.StringAttribute{
				MarkdownDescription: "Only types offered in a zone of this region (e.g. `us-east-1`); `zones` then lists only that region's zones.",
				Optional:            true,
			},
			"gpu_model": schema.StringAttribute{
				MarkdownDescription: "Only types whose GPU model contains this, ignoring case, e.g. `H100`.",
				Optional:            true,
			},
			"min_gpus": schema.Int64Attribute{
				MarkdownDescription: "Only types with at least this many GPUs.",
				Optional:            true,
				Validators:          []validator.Int64{int64validator.AtLeast(0)},
			},
			"min_memory_mib": schema.Int64Attribute{
				MarkdownDescription: "Only types with at least this much memory, in MiB.",
				Optional:            true,
				Validators:          []validator.Int64{int64validator.AtLeast(0)},
			},
			"instance_types": schema.ListNestedAttribute{
				MarkdownDescription: "The matching instance types.",
				Computed:            true,
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"cloud":          schema.StringAttribute{MarkdownDescription: "The cloud that sells it.", Computed: true},
					"name":           schema.StringAttribute{MarkdownDescription: "The type's name, for `instance_type` of a node pool.", Computed: true},
					"vcpu":           schema.Int64Attribute{MarkdownDescription: "Virtual CPUs.", Computed: true},
					"memory_mib":     schema.Int64Attribute{MarkdownDescription: "Memory in MiB.", Computed: true},
					"gpu_model":      schema.StringAttribute{MarkdownDescription: "The GPU model, e.g. `NVIDIA H100`; empty without GPUs.", Computed: true},
					"gpu_count":      schema.Int64Attribute{MarkdownDescription: "GPUs per instance.", Computed: true},
					"gpu_memory_mib": schema.Int64Attribute{MarkdownDescription: "Memory per GPU in MiB.", Computed: true},
					"price_per_hour": schema.Float64Attribute{MarkdownDescription: "On-demand price per hour (0 where unknown or free).", Computed: true},
					"zones": schema.ListAttribute{MarkdownDescription: "Zones with an available offering of the type.",
						Computed: true, ElementType: types.StringType},
					"spot": schema.BoolAttribute{MarkdownDescription: "Whether a spot offering exists.", Computed: true},
				}},
			},
		},
	}
}

// Configure implements datasource.DataSourceWithConfigure.
func (d *instanceTypesDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	d.data = clientFrom(req.ProviderData, &resp.Diagnostics)
}

// Read implements datasource.DataSource.
func (d *instanceTypesDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	if notConfigured(d.data, &resp.Diagnostics) {
		return
	}
	var m instanceTypesModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	f := api.InstanceTypeFilter{Cloud: m.Cloud.ValueString(), Region: m.Region.ValueString(), GPUModel: m.GPUModel.ValueString(),
		MinGPUs: int(m.MinGPUs.ValueInt64()), MinMemoryMiB: int(m.MinMemoryMiB.ValueInt64())}
	types_, err := d.data.client.InstanceTypes(ctx, f)
	if err != nil {
		addAPIError(&resp.Diagnostics, "Cannot list instance types", err)
		return
	}
	m.InstanceTypes = make([]instanceTypeModel, 0, len(types_))
	for _, t := range types_ {
		m.InstanceTypes = append(m.InstanceTypes, instanceTypeFromAPI(t))
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

func instanceTypeFromAPI(t api.InstanceType) instanceTypeModel {
	out := instanceTypeModel{
		Cloud: types.StringValue(t.Cloud), Name: types.StringValue(t.Name), VCPU: types.Int64Value(int64(t.VCPU)),
		MemoryMiB: types.Int64Value(int64(t.MemoryMiB)), PricePerHour: types.Float64Value(t.PricePerHour),
		GPUModel: types.StringValue(""), GPUCount: types.Int64Value(0), GPUMemoryMiB: types.Int64Value(0),
		Zones: []types.String{}, Spot: types.BoolValue(false),
	}
	count := 0
	for _, g := range t.GPUs { // a type carries one GPU model in practice; count them all
		if out.GPUModel.ValueString() == "" {
			out.GPUModel, out.GPUMemoryMiB = types.StringValue(g.Model), types.Int64Value(int64(g.MemoryMiB))
		}
		count += g.Count
	}
	out.GPUCount = types.Int64Value(int64(count))
	zones := map[string]bool{}
	for _, o := range t.Offerings {
		if !o.Available {
			continue
		}
		zones[o.Zone] = true
		if o.Spot {
			out.Spot = types.BoolValue(true)
		}
	}
	names := make([]string, 0, len(zones))
	for z := range zones {
		names = append(names, z)
	}
	sort.Strings(names)
	for _, z := range names {
		out.Zones = append(out.Zones, types.StringValue(z))
	}
	return out
}
