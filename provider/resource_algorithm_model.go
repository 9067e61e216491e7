package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/algos-dev/algos/api"
)

// algorithmModel is algos_algorithm's state.
type algorithmModel struct {
	ID            types.String    `tfsdk:"id"`
	Owner         types.String    `tfsdk:"owner"`
	Name          types.String    `tfsdk:"name"`
	Description   types.String    `tfsdk:"description"`
	Runtime       types.String    `tfsdk:"runtime"`
	Entrypoint    types.List      `tfsdk:"entrypoint"`
	Output        types.String    `tfsdk:"output"`
	Visibility    types.String    `tfsdk:"visibility"`
	Resources     *resourcesModel `tfsdk:"resources"`
	Scaling       *scalingModel   `tfsdk:"scaling"`
	Timeout       types.Int64     `tfsdk:"timeout"`
	NodePool      types.String    `tfsdk:"node_pool"`
	Network       types.Bool      `tfsdk:"network"`
	CallOthers    types.Bool      `tfsdk:"call_other_algorithms"`
	PricePerCall  types.Float64   `tfsdk:"price_per_call"`
	Source        types.String    `tfsdk:"source"`
	SourceHash    types.String    `tfsdk:"source_hash"`
	VersionBump   types.String    `tfsdk:"version_bump"`
	Version       types.String    `tfsdk:"version"`
	LatestVersion types.String    `tfsdk:"latest_version"`
}

type resourcesModel struct {
	CPU          types.Float64 `tfsdk:"cpu"`
	MemoryMiB    types.Int64   `tfsdk:"memory_mib"`
	GPUCount     types.Int64   `tfsdk:"gpu_count"`
	GPUMemoryMiB types.Int64   `tfsdk:"gpu_memory_mib"`
}

type scalingModel struct {
	MinInstances      types.Int64  `tfsdk:"min_instances"`
	MaxInstances      types.Int64  `tfsdk:"max_instances"`
	IdleTimeout       types.String `tfsdk:"idle_timeout"`
	TargetConcurrency types.Int64  `tfsdk:"target_concurrency"`
	QueueSize         types.Int64  `tfsdk:"queue_size"`
	Predictive        types.Bool   `tfsdk:"predictive"`
}

// settings is the algorithm's settings as the API takes them.
func (m *algorithmModel) settings(ctx context.Context, diags *diag.Diagnostics) api.Manifest {
	s := api.Manifest{
		Description: m.Description.ValueString(),
		Runtime:     m.Runtime.ValueString(),
		Entrypoint:  listStrings(ctx, m.Entrypoint, diags),
		Output:      m.Output.ValueString(),
		Timeout:     int(m.Timeout.ValueInt64()),
		Visibility:  m.Visibility.ValueString(),
		Price:       m.PricePerCall.ValueFloat64(),
		NodePool:    m.NodePool.ValueString(),
		Network:     m.Network.ValueBool(),
		CallOthers:  boolPtr(m.CallOthers),
	}
	if r := m.Resources; r != nil {
		s.Resources = api.Resources{CPU: r.CPU.ValueFloat64(), MemoryMiB: int(r.MemoryMiB.ValueInt64()),
			GPUs: int(r.GPUCount.ValueInt64()), GPUMemMiB: int(r.GPUMemoryMiB.ValueInt64())}
	}
	if sc := m.Scaling; sc != nil {
		s.Scaling = api.Scaling{MinInstances: int(sc.MinInstances.ValueInt64()), MaxInstances: int(sc.MaxInstances.ValueInt64()),
			IdleTimeout: sc.IdleTimeout.ValueString(), TargetConcurrency: int(sc.TargetConcurrency.ValueInt64()),
			QueueSize: int(sc.QueueSize.ValueInt64()), Predictive: boolPtr(sc.Predictive)}
	}
	return s
}

// setFromAPI sets m from the control plane's algorithm. source, version_bump and version are
// not the control plane's: they keep their values (after an import: none, "minor", and the
// latest version).
func (m *algorithmModel) setFromAPI(a api.Algorithm, diags *diag.Diagnostics) {
	prior := *m
	s := a.Settings
	m.ID = types.StringValue(a.Owner + "/" + a.Name)
	m.Owner, m.Name = types.StringValue(a.Owner), types.StringValue(a.Name)
	m.Description = stringOrNull(a.Description, prior.Description)
	m.Runtime = stringOrNull(s.Runtime, prior.Runtime)
	m.Entrypoint = stringList(s.Entrypoint, prior.Entrypoint, diags)
	m.Output = stringOrNull(s.Output, prior.Output)
	m.Visibility = types.StringValue(api.Public)
	if s.Visibility != "" {
		m.Visibility = types.StringValue(s.Visibility)
	}
	m.Timeout = int64OrNull(s.Timeout, prior.Timeout)
	m.PricePerCall = float64OrNull(s.Price, prior.PricePerCall)
	m.NodePool = stringOrNull(s.NodePool, prior.NodePool)
	m.Network = boolOrNull(s.Network, prior.Network)
	m.CallOthers = boolPtrOrNull(s.CallOthers)

	m.Resources = nil
	if pr := prior.Resources; pr != nil || s.Resources != (api.Resources{}) {
		if pr == nil {
			pr = &resourcesModel{}
		}
		r := s.Resources
		m.Resources = &resourcesModel{
			CPU:          float64OrNull(r.CPU, pr.CPU),
			MemoryMiB:    int64OrNull(r.MemoryMiB, pr.MemoryMiB),
			GPUCount:     int64OrNull(r.GPUs, pr.GPUCount),
			GPUMemoryMiB: int64OrNull(r.GPUMemMiB, pr.GPUMemoryMiB),
		}
	}
	m.Scaling = nil
	if ps := prior.Scaling; ps != nil || s.Scaling != (api.Scaling{}) {
		if ps == nil {
			ps = &scalingModel{}
		}
		sc := s.Scaling
		m.Scaling = &scalingModel{
			MinInstances:      int64OrNull(sc.MinInstances, ps.MinInstances),
			MaxInstances:      int64OrNull(sc.MaxInstances, ps.MaxInstances),
			IdleTimeout:       stringOrNull(sc.IdleTimeout, ps.IdleTimeout),
			TargetConcurrency: int64OrNull(sc.TargetConcurrency, ps.TargetConcurrency),
			QueueSize:         int64OrNull(sc.QueueSize, ps.QueueSize),
			Predictive:        boolPtrOrNull(sc.Predictive),
		}
	}

	m.SourceHash = stringOrNull(a.LatestDigest, types.StringNull())
	m.LatestVersion = stringOrNull(a.LatestVersion, types.StringNull())
	if m.Version.IsNull() || m.Version.IsUnknown() {
		m.Version = m.LatestVersion
	}
	if m.VersionBump.IsNull() || m.VersionBump.IsUnknown() {
		m.VersionBump = types.StringValue(api.BumpMinor)
	}
}

// attrGetter is a plan or a state.
type attrGetter interface {
	GetAttribute(ctx context.Context, p path.Path, target any) diag.Diagnostics
}

// publishPlanned reports whether going from state to plan publishes a new version: the source's
// content changed (or drifted), or a setting that only new versions pick up changed.
func publishPlanned(ctx context.Context, plan, state attrGetter) (bool, diag.Diagnostics) {
	var diags diag.Diagnostics
	for _, attr := range []string{"source_hash", "runtime", "output"} {
		var p, s types.String
		diags.Append(plan.GetAttribute(ctx, path.Root(attr), &p)...)
		diags.Append(state.GetAttribute(ctx, path.Root(attr), &s)...)
		if !p.Equal(s) {
			return true, diags
		}
	}
	var p, s types.List
	diags.Append(plan.GetAttribute(ctx, path.Root("entrypoint"), &p)...)
	diags.Append(state.GetAttribute(ctx, path.Root("entrypoint"), &s)...)
	return !p.Equal(s), diags
}
