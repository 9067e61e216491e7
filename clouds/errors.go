package clouds

import (
	"errors"
	"fmt"
)

// Sentinels every driver returns (wrapped with %w) so callers never match on provider
// messages. Test with errors.Is; *CapacityError and *QuotaError also match ErrCapacity and
// ErrQuota.
var (
	// ErrNotFound: the instance, group, load balancer or disk does not exist (any ID the
	// provider never issued, whatever its shape, included).
	ErrNotFound = errors.New("clouds: not found")
	// ErrAlreadyExists: a named object (group, load balancer, disk) of that name exists.
	ErrAlreadyExists = errors.New("clouds: already exists")
	// ErrInvalid: the provider rejects the request as given (unknown zone or instance type, a
	// size outside Min..Max, a malformed spec). Retrying the same request will not help.
	ErrInvalid = errors.New("clouds: invalid request")
	// ErrCapacity: the provider has no capacity for the request right now; another zone,
	// instance type or on-demand instead of spot may succeed. See *CapacityError.
	ErrCapacity = errors.New("clouds: insufficient capacity")
	// ErrQuota: an account limit would be exceeded. See *QuotaError.
	ErrQuota = errors.New("clouds: quota exceeded")
	// ErrAuth: the credentials are missing, invalid or lack a permission.
	ErrAuth = errors.New("clouds: not authorized")
)

// CapacityError reports that a zone cannot supply an instance type now (AWS
// InsufficientInstanceCapacity, GCE ZONE_RESOURCE_POOL_EXHAUSTED, Azure
// SkuNotAvailable/AllocationFailed). errors.Is(err, ErrCapacity) is true.
type CapacityError struct {
	Zone         string // "" when the provider does not say
	InstanceType string
	Spot         bool
	Msg          string // the provider's message, for people
}

func (e *CapacityError) Error() string {
	kind := "on-demand"
	if e.Spot {
		kind = "spot"
	}
	s := fmt.Sprintf("clouds: no %s capacity for instance type %q", kind, e.InstanceType)
	if e.Zone != "" {
		s += fmt.Sprintf(" in zone %q", e.Zone)
	}
	if e.Msg != "" {
		s += ": " + e.Msg
	}
	return s
}

// Is makes errors.Is(err, ErrCapacity) true.
func (e *CapacityError) Is(target error) bool { return target == ErrCapacity }

// QuotaError reports that an account limit would be exceeded (AWS VcpuLimitExceeded, GCE
// QUOTA_EXCEEDED, Azure OperationNotAllowed quota). errors.Is(err, ErrQuota) is true.
type QuotaError struct {
	Resource string // what ran out, e.g. "vcpus", "instances", "gpus"; "" when unknown
	Region   string // "" when not regional or unknown
	Msg      string // the provider's message, for people
}

func (e *QuotaError) Error() string {
	s := "clouds: quota exceeded"
	if e.Resource != "" {
		s += " for " + e.Resource
	}
	if e.Region != "" {
		s += fmt.Sprintf(" in region %q", e.Region)
	}
	if e.Msg != "" {
		s += ": " + e.Msg
	}
	return s
}

// Is makes errors.Is(err, ErrQuota) true.
func (e *QuotaError) Is(target error) bool { return target == ErrQuota }
