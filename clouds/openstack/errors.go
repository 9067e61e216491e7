package openstack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/gophercloud/gophercloud/v2"

	"github.com/algos-dev/algos/clouds"
)

// ErrNoService: the cloud's catalog has no endpoint for the service a capability needs
// (Octavia, Heat, Cinder, Glance for image names, Neutron for floating IPs). Errors
// wrapping it also match clouds.ErrInvalid.
var ErrNoService = errors.New("openstack: service not in the catalog")

// Error is what the driver returns when an OpenStack call fails: the operation, the HTTP
// status and the service's own fault message, classified. errors.Is and errors.As see
// through it to both the clouds error (ErrNotFound, *QuotaError …) and gophercloud's
// (gophercloud.ErrUnexpectedResponseCode, a context error, …).
type Error struct {
	Op      string // what the driver was doing, e.g. "create server"
	Status  int    // the HTTP status; 0 when the call got no answer
	Message string // the service's fault message ("" when none)
	Kind    error  // the clouds sentinel or typed error; nil when unclassified
	Err     error  // gophercloud's error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("openstack: " + e.Op)
	switch k := e.Kind.(type) {
	case *clouds.CapacityError, *clouds.QuotaError:
		b.WriteString(": " + k.Error())
	case nil:
		if e.Message == "" && e.Err != nil {
			b.WriteString(": " + e.Err.Error())
		}
	default:
		b.WriteString(": " + k.Error())
		if e.Message == "" && e.Err != nil && e.Status == 0 {
			b.WriteString(": " + e.Err.Error())
		}
	}
	if e.Message != "" {
		if _, typed := e.Kind.(*clouds.QuotaError); !typed {
			b.WriteString(": " + e.Message)
		}
	}
	if e.Status != 0 {
		fmt.Fprintf(&b, " (HTTP %d)", e.Status)
	}
	return b.String()
}

// Unwrap returns the clouds error and gophercloud's error.
func (e *Error) Unwrap() []error {
	var errs []error
	for _, err := range []error{e.Kind, e.Err} {
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// status returns the HTTP status of a failed gophercloud call, or 0.
func status(err error) int {
	var rc gophercloud.ErrUnexpectedResponseCode
	if errors.As(err, &rc) {
		return rc.Actual
	}
	return 0
}

// wrap classifies a gophercloud error as an *Error for op; nil stays nil and an *Error is
// returned as it is. Classification by HTTP status: 401 → ErrAuth; 403 → *QuotaError
// when the body is the service's documented quota error (Nova "Quota exceeded for …",
// Octavia "Quota has been met for resources: …"), else ErrAuth; 404 → ErrNotFound;
// 400, 409 (a state conflict; callers that know a 409 is a name clash say
// ErrAlreadyExists) and 422 → ErrInvalid; 413 (Nova's and Cinder's overLimit) →
// *QuotaError. A failed re-authentication is ErrAuth; a missing catalog entry
// ErrNoService. Context errors and other statuses (429 and 503 after the retries, 5xx)
// stay unclassified.
func (d *Driver) wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	var already *Error
	if errors.As(err, &already) {
		return err
	}
	e := &Error{Op: op, Err: err}
	var rc gophercloud.ErrUnexpectedResponseCode
	var reauth *gophercloud.ErrUnableToReauthenticate
	var noEndpoint *gophercloud.ErrEndpointNotFound
	var noService *gophercloud.ErrServiceNotFound
	switch {
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
	case errors.As(err, &rc):
		e.Status, e.Message = rc.Actual, faultMessage(rc.Body)
		switch rc.Actual {
		case http.StatusUnauthorized:
			e.Kind = clouds.ErrAuth
		case http.StatusForbidden:
			if q := d.quota(e.Message); q != nil {
				e.Kind = q
			} else {
				e.Kind = clouds.ErrAuth
			}
		case http.StatusNotFound:
			e.Kind = clouds.ErrNotFound
		case http.StatusBadRequest, http.StatusConflict, http.StatusUnprocessableEntity:
			e.Kind = clouds.ErrInvalid
		case http.StatusRequestEntityTooLarge:
			if e.Kind = d.quota(e.Message); e.Kind == nil {
				e.Kind = &clouds.QuotaError{Region: d.region, Msg: e.Message}
			}
		}
	case errors.As(err, &reauth):
		e.Kind = clouds.ErrAuth
	case errors.As(err, &noEndpoint), errors.As(err, &noService):
		e.Kind, e.Err = clouds.ErrInvalid, fmt.Errorf("%w: %w", ErrNoService, err)
	}
	return e
}

// quota returns the *QuotaError a fault message documents, or nil: Nova's "Quota exceeded
// for cores: Requested 8, but already used …" (resource cores → "vcpus", ram → "memory"),
// Octavia's "Quota has been met for resources: Load Balancer", Cinder's
// "VolumeSizeExceedsAvailableQuota: …" (gigabytes) and "VolumeLimitExceeded: …" (volumes).
func (d *Driver) quota(msg string) error {
	resource := ""
	switch {
	case strings.HasPrefix(msg, "Quota exceeded for "):
		resource, _, _ = strings.Cut(strings.TrimPrefix(msg, "Quota exceeded for "), ":")
		if r, ok := map[string]string{"cores": "vcpus", "ram": "memory"}[resource]; ok {
			resource = r
		}
	case strings.HasPrefix(msg, "Quota has been met for resources: "):
		resource = strings.ToLower(strings.TrimPrefix(msg, "Quota has been met for resources: "))
	case strings.HasPrefix(msg, "VolumeSizeExceedsAvailableQuota:"):
		resource = "gigabytes"
	case strings.HasPrefix(msg, "VolumeLimitExceeded:"):
		resource = "volumes"
	default:
		return nil
	}
	return &clouds.QuotaError{Resource: strings.TrimSpace(resource), Region: d.region, Msg: msg}
}

// faultMessage extracts the message of an OpenStack error body: Nova, Cinder and Neutron's
// {"<fault>": {"message": …}}, Octavia's {"faultstring": …}, Heat's and Keystone's
// {"error": {"message": …}}, or a bare {"message": …}. Other bodies are returned trimmed,
// at most 200 bytes.
func faultMessage(body []byte) string {
	var top map[string]json.RawMessage
	if json.Unmarshal(body, &top) != nil {
		s := strings.TrimSpace(string(body))
		if len(s) > 200 {
			s = s[:200] + "…"
		}
		return s
	}
	str := func(raw json.RawMessage) string {
		var s string
		_ = json.Unmarshal(raw, &s)
		return s
	}
	if m := str(top["faultstring"]); m != "" {
		return m
	}
	if m := str(top["message"]); m != "" {
		return m
	}
	for _, raw := range top {
		var inner struct {
			Message string `json:"message"`
		}
		if json.Unmarshal(raw, &inner) == nil && inner.Message != "" {
			return inner.Message
		}
	}
	return ""
}

// faultOf is the service's fault message of a failed call ("" when none).
func faultOf(err error) string {
	var rc gophercloud.ErrUnexpectedResponseCode
	if errors.As(err, &rc) {
		return faultMessage(rc.Body)
	}
	return ""
}

// isStatus reports whether err is an OpenStack answer with one of the statuses.
func isStatus(err error, statuses ...int) bool {
	s := status(err)
	for _, want := range statuses {
		if s == want {
			return true
		}
	}
	return false
}
