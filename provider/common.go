package provider

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/algos-dev/algos/api"
)

// clientFrom turns the provider's data into the client of a resource or data source. It is nil
// before the provider is configured (validation), which Configure methods must tolerate.
func clientFrom(data any, diags *diag.Diagnostics) *clientData {
	if data == nil {
		return nil
	}
	c, ok := data.(*clientData)
	if !ok {
		diags.AddError("Unexpected provider data", fmt.Sprintf("expected *clientData, got %T: this is a bug in the provider", data))
		return nil
	}
	return c
}

// notConfigured reports (and adds a diagnostic) when an operation runs without a client.
func notConfigured(c *clientData, diags *diag.Diagnostics) bool {
	if c == nil {
		diags.AddError("The algos provider is not configured", "The provider block was not configured before use: this is a bug in the provider or in Terraform.")
		return true
	}
	return false
}

// isNotFound reports whether the API answered 404.
func isNotFound(err error) bool {
	var ae *api.Error
	return errors.As(err, &ae) && ae.Status == http.StatusNotFound
}

// addAPIError adds an error diagnostic for a failed API request: summary says what was being
// done; the API's message (which says what to do) is the detail.
func addAPIError(diags *diag.Diagnostics, summary string, err error) {
	var ae *api.Error
	if errors.As(err, &ae) {
		detail := ae.Message
		switch ae.Status {
		case http.StatusUnauthorized:
			detail += " (the API key was refused: check api_key)"
		case http.StatusForbidden:
			detail += " (the API key lacks the rights: managing needs the manage scope, node pools an administrator's key)"
		}
		diags.AddError(summary, fmt.Sprintf("The algos control plane answered %d %s: %s", ae.Status, ae.ErrorType, detail))
		return
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		diags.AddError(summary, "Interrupted: "+err.Error())
		return
	}
	diags.AddError(summary, err.Error())
}

// Conversions between API values, where zero means unset, and Terraform values, where unset is
// null. prior is the value before (state or plan): a zero from the API stays the prior's
// explicit zero rather than becoming null, so that `timeout = 0` or `description = ""` in a
// configuration does not show as drift.

func stringOrNull(s string, prior types.String) types.String {
	if s == "" && (prior.IsNull() || prior.IsUnknown() || prior.ValueString() != "") {
		return types.StringNull()
	}
	return types.StringValue(s)
}

func int64OrNull(n int, prior types.Int64) types.Int64 {
	if n == 0 && (prior.IsNull() || prior.IsUnknown() || prior.ValueInt64() != 0) {
		return types.Int64Null()
	}
	return types.Int64Value(int64(n))
}

func float64OrNull(f float64, prior types.Float64) types.Float64 {
	if f == 0 && (prior.IsNull() || prior.IsUnknown() || prior.ValueFloat64() != 0) {
		return types.Float64Null()
	}
	return types.Float64Value(f)
}

// boolOrNull converts an optional boolean the API leaves out when false.
func boolOrNull(b bool, prior types.Bool) types.Bool {
	if !b && (prior.IsNull() || prior.IsUnknown() || prior.ValueBool()) {
		return types.BoolNull()
	}
	return types.BoolValue(b)
}

// boolPtrOrNull converts an optional boolean the API leaves out when unset.
func boolPtrOrNull(b *bool) types.Bool {
	if b == nil {
		return types.BoolNull()
	}
	return types.BoolValue(*b)
}

// boolPtr is the API's optional boolean of a value (nil when null or unknown).
func boolPtr(v types.Bool) *bool {
	if v.IsNull() || v.IsUnknown() {
		return nil
	}
	b := v.ValueBool()
	return &b
}

// stringList converts a list of strings; empty is null unless prior is an empty list.
func stringList(ss []string, prior types.List, diags *diag.Diagnostics) types.List {
	if len(ss) == 0 && (prior.IsNull() || prior.IsUnknown() || len(prior.Elements()) != 0) {
		return types.ListNull(types.StringType)
	}
	vals := make([]attr.Value, len(ss))
	for i, s := range ss {
		vals[i] = types.StringValue(s)
	}
	l, d := types.ListValue(types.StringType, vals)
	diags.Append(d...)
	return l
}

// listStrings converts a known list of strings (null: nil).
func listStrings(ctx context.Context, l types.List, diags *diag.Diagnostics) []string {
	if l.IsNull() || l.IsUnknown() {
		return nil
	}
	var out []string
	diags.Append(l.ElementsAs(ctx, &out, false)...)
	return out
}

// stringMap converts a map of strings; empty is null unless prior is an empty map.
func stringMap(m map[string]string, prior types.Map, diags *diag.Diagnostics) types.Map {
	if len(m) == 0 && (prior.IsNull() || prior.IsUnknown() || len(prior.Elements()) != 0) {
		return types.MapNull(types.StringType)
	}
	vals := make(map[string]attr.Value, len(m))
	for k, v := range m {
		vals[k] = types.StringValue(v)
	}
	out, d := types.MapValue(types.StringType, vals)
	diags.Append(d...)
	return out
}

// isConflict reports whether the API answered 409 (exists already).
func isConflict(err error) bool {
	var ae *api.Error
	return errors.As(err, &ae) && ae.Status == http.StatusConflict
}
