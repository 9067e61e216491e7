package provider

import (
	"context"
	"fmt"
	"regexp"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
)

// nameRE is the control plane's rule for account, algorithm and node pool names.
var nameRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]{0,63}$`)

// scopeRE is an algorithm scope of a key: algo://*, algo://owner/* or algo://owner/name/*.
var scopeRE = regexp.MustCompile(`^algo://(\*|[A-Za-z][A-Za-z0-9_-]{0,63}/\*|[A-Za-z][A-Za-z0-9_-]{0,63}/[A-Za-z][A-Za-z0-9_-]{0,63}/\*)$`)

// versionRangeRE is what a version may be asked as: an exact semantic version (1.2.3, with an
// optional pre-release), 1.2.*, 1.* or latest.
var versionRangeRE = regexp.MustCompile(`^(latest|(0|[1-9]\d*)\.\*|(0|[1-9]\d*)\.(0|[1-9]\d*)\.\*|(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?)$`)

func nameValidator() validator.String {
	return stringvalidator.RegexMatches(nameRE, "must be 1 to 64 letters, digits, '-' or '_', starting with a letter")
}

// durationValidator accepts a positive Go duration such as "30s" or "5m".
type durationValidator struct{}

var _ validator.String = durationValidator{}

func (durationValidator) Description(context.Context) string {
	return "must be a positive duration such as 30s, 5m or 1h30m"
}

func (v durationValidator) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }

func (v durationValidator) ValidateString(ctx context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	s := req.ConfigValue.ValueString()
	if d, err := time.ParseDuration(s); err != nil || d <= 0 {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid duration", fmt.Sprintf("%q %s.", s, v.Description(ctx)))
	}
}

// rfc3339Validator accepts a time in RFC 3339 format, e.g. 2030-01-02T15:04:05Z.
type rfc3339Validator struct{}

var _ validator.String = rfc3339Validator{}

func (rfc3339Validator) Description(context.Context) string {
	return "must be a time in RFC 3339 format, such as 2030-01-02T15:04:05Z"
}

func (v rfc3339Validator) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }

func (v rfc3339Validator) ValidateString(ctx context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	s := req.ConfigValue.ValueString()
	if _, err := time.Parse(time.RFC3339, s); err != nil {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid time", fmt.Sprintf("%q %s.", s, v.Description(ctx)))
	}
}
