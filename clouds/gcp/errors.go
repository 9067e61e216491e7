package gcp

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"cloud.google.com/go/compute/apiv1/computepb"
	"github.com/googleapis/gax-go/v2/apierror"
	"google.golang.org/api/googleapi"

	"github.com/algos-dev/algos/clouds"
)

// How GCE errors map onto the clouds sentinels. GCE says what went wrong twice: in the HTTP
// status and in reason codes, camelCase in a direct error's error.errors[].reason
// ("notFound") and UPPER_SNAKE in a finished operation's error.errors[].code
// ("ZONE_RESOURCE_POOL_EXHAUSTED"). The rows below are tried in order; a row matches on any
// of its reasons or statuses (so a 401 with reason "required" is auth, a 400 with it
// invalid). Messages are never matched.
//
//	capacity  ZONE_RESOURCE_POOL_EXHAUSTED, ZONE_RESOURCE_POOL_EXHAUSTED_WITH_DETAILS,
//	          resourcePoolExhausted, stockout, STOCKOUT        → *clouds.CapacityError
//	quota     QUOTA_EXCEEDED, quotaExceeded                      → *clouds.QuotaError
//	throttle  rateLimitExceeded, userRateLimitExceeded,
//	          RATE_LIMIT_EXCEEDED, status 429                    → retried; then *clouds.QuotaError
//	                                                               for "api requests"
//	auth      forbidden, insufficientPermissions, authError,
//	          accessNotConfigured, PERMISSION_DENIED, 401, 403   → clouds.ErrAuth
//	missing   notFound, RESOURCE_NOT_FOUND, status 404           → clouds.ErrNotFound (ErrInvalid
//	                                                               when creating: a referenced
//	                                                               image, network or type is missing)
//	exists    alreadyExists, RESOURCE_ALREADY_EXISTS, 409        → clouds.ErrAlreadyExists
//	invalid   resourceInUseByAnotherResource, invalid, badRequest,
//	          required, invalidParameter, INVALID_FIELD_VALUE,
//	          conditionNotMet, status 400                        → clouds.ErrInvalid
//	transient resourceNotReady, RESOURCE_NOT_READY, backendError,
//	          status 502, 503, 504                               → retried; then *Error
var (
	capacityReasons  = set("ZONE_RESOURCE_POOL_EXHAUSTED", "ZONE_RESOURCE_POOL_EXHAUSTED_WITH_DETAILS", "resourcePoolExhausted", "stockout", "STOCKOUT")
	quotaReasons     = set("QUOTA_EXCEEDED", "quotaExceeded")
	throttleReasons  = set("rateLimitExceeded", "userRateLimitExceeded", "RATE_LIMIT_EXCEEDED")
	notFoundReasons  = set("notFound", "RESOURCE_NOT_FOUND")
	existsReasons    = set("alreadyExists", "RESOURCE_ALREADY_EXISTS")
	invalidReasons   = set("resourceInUseByAnotherResource", "RESOURCE_IN_USE_BY_ANOTHER_RESOURCE", "invalid", "badRequest", "required", "invalidParameter", "INVALID_FIELD_VALUE", "conditionNotMet")
	authReasons      = set("forbidden", "insufficientPermissions", "authError", "accessNotConfigured", "PERMISSION_DENIED")
	transientReasons = set("resourceNotReady", "RESOURCE_NOT_READY", "backendError")
)

func set(s ...string) map[string]bool {
	m := make(map[string]bool, len(s))
	for _, v := range s {
		m[v] = true
	}
	return m
}

// Error is a GCE error mapped onto a clouds sentinel: errors.Is(err, e.Kind) holds, and
// errors.As reaches the SDK's error (*googleapi.Error, *apierror.APIError) when there was
// one. Capacity and quota errors are *clouds.CapacityError and *clouds.QuotaError instead.
type Error struct {
	Kind   error  // clouds.ErrNotFound, ErrAlreadyExists, ErrInvalid, ErrAuth; nil when none fits
	Code   int    // HTTP status, or the operation's httpErrorStatusCode; 0 when unknown
	Reason string // the first reason (direct errors) or error code (operations)
	Msg    string // GCE's message, for people
	Err    error  // the SDK error; nil for an operation's error
}

func (e *Error) Error() string {
	s := "gcp"
	if e.Kind != nil {
		s = e.Kind.Error()
	}
	if e.Code != 0 {
		s += fmt.Sprintf(": %d", e.Code)
	}
	if e.Reason != "" {
		s += " " + e.Reason
	}
	if e.Msg != "" {
		s += ": " + e.Msg
	}
	return s
}

// Unwrap returns the sentinel and the SDK error.
func (e *Error) Unwrap() []error {
	var errs []error
	if e.Kind != nil {
		errs = append(errs, e.Kind)
	}
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	return errs
}

// errCtx is what the driver knew when it made a call, to fill typed errors.
type errCtx struct {
	zone        string
	machineType string
	spot        bool
	create      bool // a 404 names a referenced resource, not the one being created
}

// problem is the part of a GCE error the mapping reads.
type problem struct {
	code    int
	reasons []string
	msg     string
	quota   *computepb.QuotaExceededInfo
	quotaOn string // a QuotaFailure violation's subject, from direct errors
	err     error
}

func (p problem) has(codes map[string]bool) bool {
	for _, r := range p.reasons {
		if codes[r] {
			return true
		}
	}
	return false
}

// problemOf reads an SDK error; ok is false for errors that are not GCE's (transport,
// context).
func problemOf(err error) (p problem, ok bool) {
	var ae *apierror.APIError
	if errors.As(err, &ae) {
		ok = true
		p.code = ae.HTTPCode()
		if r := ae.Reason(); r != "" {
			p.reasons = append(p.reasons, r)
		}
		if qf := ae.Details().QuotaFailure; qf != nil {
			for _, v := range qf.GetViolations() {
				p.quotaOn = v.GetSubject()
				break
			}
		}
	}
	var ge *googleapi.Error
	if errors.As(err, &ge) {
		ok = true
		p.code = ge.Code
		p.msg = ge.Message
		for _, it := range ge.Errors {
			if it.Reason != "" {
				p.reasons = append(p.reasons, it.Reason)
			}
			if p.msg == "" {
				p.msg = it.Message
			}
		}
	}
	p.err = err
	return p, ok
}

// opProblem reads a finished operation's error; ok is false when it succeeded.
func opProblem(op *computepb.Operation) (p problem, ok bool) {
	errs := op.GetError().GetErrors()
	if len(errs) == 0 {
		if c := op.GetHttpErrorStatusCode(); c != 0 && (c < 200 || c > 299) {
			return problem{code: int(c), msg: op.GetHttpErrorMessage()}, true
		}
		return problem{}, false
	}
	p.code = int(op.GetHttpErrorStatusCode())
	var msgs []string
	for _, e := range errs {
		p.reasons = append(p.reasons, e.GetCode())
		if m := e.GetMessage(); m != "" {
			msgs = append(msgs, m)
		}
		for _, d := range e.GetErrorDetails() {
			if q := d.GetQuotaInfo(); q != nil && p.quota == nil {
				p.quota = q
			}
		}
	}
	p.msg = strings.Join(msgs, "; ")
	return p, true
}

// mapError maps an SDK error onto the clouds sentinels; context errors and errors that are
// not GCE's pass through.
func mapError(err error, ec errCtx) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	p, ok := problemOf(err)
	if !ok {
		return err
	}
	return p.mapped(ec)
}

func (p problem) mapped(ec errCtx) error {
	reason := ""
	if len(p.reasons) > 0 {
		reason = p.reasons[0]
	}
	kind := func(k error) error {
		return &Error{Kind: k, Code: p.code, Reason: reason, Msg: p.msg, Err: p.err}
	}
	switch {
	case p.has(capacityReasons):
		return &clouds.CapacityError{Zone: ec.zone, InstanceType: ec.machineType, Spot: ec.spot, Msg: withReason(reason, p.msg)}
	case p.has(quotaReasons):
		q := &clouds.QuotaError{Resource: p.quotaOn, Msg: withReason(reason, p.msg)}
		if p.quota != nil {
			q.Resource = p.quota.GetMetricName()
			q.Region = p.quota.GetDimensions()["region"]
		}
		return q
	case p.has(throttleReasons) || p.code == http.StatusTooManyRequests:
		return &clouds.QuotaError{Resource: "api requests", Msg: withReason(reason, p.msg)}
	case p.has(authReasons) || p.code == http.StatusUnauthorized || p.code == http.StatusForbidden:
		return kind(clouds.ErrAuth)
	case p.has(notFoundReasons) || p.code == http.StatusNotFound && !p.has(invalidReasons):
		if ec.create {
			return kind(clouds.ErrInvalid)
		}
		return kind(clouds.ErrNotFound)
	case p.has(existsReasons) || p.code == http.StatusConflict && !p.has(invalidReasons):
		return kind(clouds.ErrAlreadyExists)
	case p.has(invalidReasons) || p.code == http.StatusBadRequest:
		return kind(clouds.ErrInvalid)
	}
	return kind(nil)
}

func withReason(reason, msg string) string {
	switch {
	case reason == "":
		return msg
	case msg == "":
		return reason
	}
	return reason + ": " + msg
}

// retryable reports whether err is throttling or a transient fault worth another try.
func retryable(err error) bool {
	p, ok := problemOf(err)
	if !ok || p.has(capacityReasons) || p.has(quotaReasons) {
		return false
	}
	switch p.code {
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return p.has(throttleReasons) || p.has(transientReasons)
}

// isNotFound reports whether err, mapped or not, says the resource does not exist.
func isNotFound(err error) bool {
	return errors.Is(mapError(err, errCtx{}), clouds.ErrNotFound)
}
