package azure

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/algos-dev/algos/clouds"
)

// Azure error codes (the "code" of ARM's error body, azcore.ResponseError.ErrorCode) and the
// clouds error each becomes. Unlisted codes map by HTTP status: 404 → ErrNotFound, 401 and
// 403 → ErrAuth, other 4xx → ErrInvalid; 429 and 5xx (after azcore's retries) wrap no
// sentinel: they are transient.
var (
	notFoundCodes = codes("ResourceNotFound", "NotFound", "ResourceGroupNotFound", "ParentResourceNotFound")
	// capacityCodes: the region or zone cannot supply the size now; another zone, size or
	// on-demand instead of spot may succeed.
	capacityCodes = codes("SkuNotAvailable", "ZonalAllocationFailed", "AllocationFailed",
		"OverconstrainedAllocationRequest", "OverconstrainedZonalAllocationRequest")
	// quotaCodes: an account limit. OperationNotAllowed is also Azure's code for many other
	// refusals: it is a quota error only when its message speaks of a quota (see isQuota).
	quotaCodes = codes("QuotaExceeded", "OperationNotAllowed", "PublicIPCountLimitReached")
	authCodes  = codes("AuthorizationFailed", "AuthenticationFailed", "InvalidAuthenticationToken",
		"InvalidAuthenticationTokenTenant", "ExpiredAuthenticationToken", "LinkedAuthorizationFailed")
	// transientCodes: conflicts Azure asks the caller to retry; the driver retries them itself
	// (retry.go).
	transientCodes = codes("AnotherOperationInProgress", "RetryableError", "OperationPreempted")
)

func codes(cs ...string) map[string]bool {
	m := make(map[string]bool, len(cs))
	for _, c := range cs {
		m[strings.ToLower(c)] = true
	}
	return m
}

// launch describes what a failed call tried to launch, for *clouds.CapacityError.
type launch struct {
	zone, size string
	spot       bool
}

// apiError is an *azcore.ResponseError (reachable with errors.As) with a one-line message:
// code, status and the service's message, without the request dump azcore's Error() has.
type apiError struct {
	re  *azcore.ResponseError
	msg string
}

func (e *apiError) Error() string { return e.msg }
func (e *apiError) Unwrap() error { return e.re }

// mapError turns an error of an Azure call into one wrapping the clouds sentinels. what
// names the call for people ("create VM \"x\""); l, when not nil, fills a CapacityError.
// Context errors keep wrapping ctx.Err().
func (d *Driver) mapError(err error, what string, l *launch) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, clouds.ErrAuth) {
		return fmt.Errorf("azure: %s: %w", what, err)
	}
	var authErr *azidentity.AuthenticationFailedError
	if errors.As(err, &authErr) {
		return fmt.Errorf("azure: %s: %w: %w", what, clouds.ErrAuth, err)
	}
	var re *azcore.ResponseError
	if !errors.As(err, &re) {
		return fmt.Errorf("azure: %s: %w", what, err)
	}
	code, msg := re.ErrorCode, errorMessage(re)
	ae := &apiError{re: re, msg: fmt.Sprintf("%s (HTTP %d)", code, re.StatusCode)}
	if msg != "" {
		ae.msg += ": " + msg
	}
	lc := strings.ToLower(code)
	var kind error
	switch {
	case capacityCodes[lc]:
		ce := &clouds.CapacityError{Msg: ae.msg}
		if l != nil {
			ce.Zone, ce.InstanceType, ce.Spot = l.zone, l.size, l.spot
		}
		return fmt.Errorf("azure: %s: %w", what, &capacityErr{ce, ae})
	case quotaCodes[lc] && isQuota(code, msg):
		qe := &clouds.QuotaError{Resource: quotaResource(code, msg), Region: d.cfg.Location, Msg: ae.msg}
		return fmt.Errorf("azure: %s: %w", what, &quotaErr{qe, ae})
	case authCodes[lc] || re.StatusCode == http.StatusUnauthorized || re.StatusCode == http.StatusForbidden:
		kind = clouds.ErrAuth
	case notFoundCodes[lc] || re.StatusCode == http.StatusNotFound:
		kind = clouds.ErrNotFound
	case re.StatusCode == http.StatusTooManyRequests || re.StatusCode >= 500 || transientCodes[lc]:
		return fmt.Errorf("azure: %s: %w", what, ae)
	case re.StatusCode >= 400:
		kind = clouds.ErrInvalid
	default: // a failed long-running operation reported with 200
		return fmt.Errorf("azure: %s: %w", what, ae)
	}
	return fmt.Errorf("azure: %s: %w: %w", what, kind, ae)
}

// capacityErr is a *clouds.CapacityError that also unwraps to the Azure error.
type capacityErr struct {
	*clouds.CapacityError
	api *apiError
}

func (e *capacityErr) Unwrap() []error { return []error{e.CapacityError, e.api} }

// quotaErr is a *clouds.QuotaError that also unwraps to the Azure error.
type quotaErr struct {
	*clouds.QuotaError
	api *apiError
}

func (e *quotaErr) Unwrap() []error { return []error{e.QuotaError, e.api} }

// isQuota tells quota refusals from the other uses of OperationNotAllowed ("not allowed
// since the VM is deallocating" and the like): Azure gives them one code, and only the
// message says which ("… exceeding approved standardNCADSA100v4Family Cores quota …").
func isQuota(code, msg string) bool {
	if !strings.EqualFold(code, "OperationNotAllowed") {
		return true
	}
	return strings.Contains(strings.ToLower(msg), "quota")
}

func quotaResource(code, msg string) string {
	m := strings.ToLower(msg)
	switch {
	case strings.EqualFold(code, "PublicIPCountLimitReached") || strings.Contains(m, "public ip"):
		return "public ip addresses"
	case strings.Contains(m, "lowprioritycores") || strings.Contains(m, "low priority"):
		return "spot vcpus"
	case strings.Contains(m, "cores") || strings.Contains(m, "vcpu"):
		return "vcpus"
	}
	return ""
}

// errorMessage is error.message of ARM's error body, "" when there is none.
func errorMessage(re *azcore.ResponseError) string {
	if re.RawResponse == nil {
		return ""
	}
	body, err := runtime.Payload(re.RawResponse)
	if err != nil || len(body) == 0 {
		return ""
	}
	var e struct {
		Error struct {
			Message string `json:"message"`
		} `json:"error"`
		Message string `json:"message"`
	}
	if json.Unmarshal(body, &e) != nil {
		return ""
	}
	if e.Error.Message != "" {
		return e.Error.Message
	}
	return e.Message
}

// errorCode is the Azure error code of err, "" when err is not an Azure response error.
func errorCode(err error) string {
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		return re.ErrorCode
	}
	return ""
}

// isNotFound reports whether err is Azure's answer that the resource does not exist.
func isNotFound(err error) bool {
	var re *azcore.ResponseError
	return errors.As(err, &re) && (re.StatusCode == http.StatusNotFound || notFoundCodes[strings.ToLower(re.ErrorCode)])
}

// isPreconditionFailed reports a 412: an If-None-Match: * create found the resource, or an
// If-Match update lost a race.
func isPreconditionFailed(err error) bool {
	var re *azcore.ResponseError
	return errors.As(err, &re) && (re.StatusCode == http.StatusPreconditionFailed || strings.EqualFold(re.ErrorCode, "PreconditionFailed"))
}
