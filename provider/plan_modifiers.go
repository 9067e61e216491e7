package provider

import (
	"context"
	"fmt"
	"os"

	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/algos-dev/algos/api"
)

// sourceHashModifier plans algos_algorithm's source_hash: the digest of the source directory
// packed as a publish packs it, so that editing a file shows in the plan. A source directory
// that does not exist is an error at plan time.
type sourceHashModifier struct{}

var _ planmodifier.String = sourceHashModifier{}

func (sourceHashModifier) Description(context.Context) string {
	return "The digest of the packed source directory, computed at plan time."
}

func (m sourceHashModifier) MarkdownDescription(ctx context.Context) string {
	return m.Description(ctx)
}

func (sourceHashModifier) PlanModifyString(ctx context.Context, req planmodifier.StringRequest, resp *planmodifier.StringResponse) {
	if req.Plan.Raw.IsNull() {
		return // destroy: the directory may be gone already
	}
	var src types.String
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("source"), &src)...)
	switch {
	case resp.Diagnostics.HasError() || src.IsNull():
		return // source is required: validation says so
	case src.IsUnknown():
		resp.PlanValue = types.StringUnknown()
		return
	}
	dir := src.ValueString()
	info, err := os.Stat(dir)
	if err != nil {
		resp.Diagnostics.AddAttributeError(path.Root("source"), "Source directory not found",
			fmt.Sprintf("source %q does not exist (%v). Point source at the algorithm's directory; relative paths are relative to "+
				"where terraform runs, so prefer \"${path.module}/...\".", dir, err))
		return
	}
	if !info.IsDir() {
		resp.Diagnostics.AddAttributeError(path.Root("source"), "Source is not a directory",
			fmt.Sprintf("source %q is a file: point it at the directory that holds the algorithm's code.", dir))
		return
	}
	_, digest, err := api.PackSource(dir)
	if err != nil {
		resp.Diagnostics.AddAttributeError(path.Root("source"), "Cannot pack the source directory", err.Error())
		return
	}
	resp.PlanValue = types.StringValue(digest)
}

// desiredSizeModifier plans algos_node_pool's desired_size when the configuration leaves it
// out: the planned min_size.
type desiredSizeModifier struct{}

var _ planmodifier.Int64 = desiredSizeModifier{}

func (desiredSizeModifier) Description(context.Context) string {
	return "Defaults to min_size."
}

func (m desiredSizeModifier) MarkdownDescription(ctx context.Context) string {
	return m.Description(ctx)
}

func (desiredSizeModifier) PlanModifyInt64(ctx context.Context, req planmodifier.Int64Request, resp *planmodifier.Int64Response) {
	if req.Plan.Raw.IsNull() || !req.ConfigValue.IsNull() {
		return
	}
	var lo types.Int64
	resp.Diagnostics.Append(req.Plan.GetAttribute(ctx, path.Root("min_size"), &lo)...)
	resp.PlanValue = lo
}
