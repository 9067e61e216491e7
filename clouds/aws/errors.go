package aws

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/smithy-go"

	"github.com/algos-dev/algos/clouds"
)

// Error is what the driver returns when an AWS call fails: the operation, AWS's error code
// and the SDK's error, classified. errors.Is and errors.As see through it to both the
// clouds error (ErrNotFound, *CapacityError …) and the SDK's (smithy.APIError, …).
type Error struct {
	Op   string // what the driver was doing, e.g. "create instance"
	Code string // AWS's error code, "" when the call got no API error
	Kind error  // the clouds sentinel or typed error; nil when unclassified
	Err  error  // the SDK's error
}

func (e *Error) Error() string {
	switch k := e.Kind.(type) {
	case *clouds.CapacityError, *clouds.QuotaError:
		return fmt.Sprintf("aws: %s: %v (%s)", e.Op, k, e.Code)
	case nil:
		return fmt.Sprintf("aws: %s: %v", e.Op, e.Err)
	}
	return fmt.Sprintf("aws: %s: %v: %v", e.Op, e.Kind, e.Err)
}

// Unwrap returns the clouds error and the SDK's error.
func (e *Error) Unwrap() []error {
	if e.Kind == nil {
		return []error{e.Err}
	}
	return []error{e.Kind, e.Err}
}

type kind int

const (
	kindNone kind = iota
	kindNotFound
	kindExists
	kindInvalid
	kindCapacity
	kindQuota
	kindAuth
)

// codes classifies AWS error codes, across EC2, Auto Scaling and ELBv2. ValidationError
// (Auto Scaling and ELBv2 answer it for a missing group as for a bad argument) is
// classified by the caller, who checks whether the object exists, never by its message.
var codes = map[string]kind{
	// The object operated on does not exist, or its ID could never exist.
	"InvalidInstanceID.NotFound":                  kindNotFound,
	"InvalidInstanceID.Malformed":                 kindNotFound,
	"InvalidGroup.NotFound":                       kindNotFound,
	"InvalidVolume.NotFound":                      kindNotFound,
	"InvalidVolumeID.Malformed":                   kindNotFound,
	"InvalidLaunchTemplateName.NotFoundException": kindNotFound,
	"InvalidLaunchTemplateId.NotFound":            kindNotFound,
	"InvalidLaunchTemplateId.Malformed":           kindNotFound,
	"LoadBalancerNotFound":                        kindNotFound,
	"TargetGroupNotFound":                         kindNotFound,
	"ListenerNotFound":                            kindNotFound,

	"AlreadyExists": kindExists,
	"InvalidLaunchTemplateName.AlreadyExistsException": kindExists,
	"DuplicateLoadBalancerName":                        kindExists,
	"DuplicateTargetGroupName":                         kindExists,
	"DuplicateListener":                                kindExists,

	"InsufficientInstanceCapacity":         kindCapacity,
	"InsufficientCapacity":                 kindCapacity,
	"InsufficientHostCapacity":             kindCapacity,
	"InsufficientReservedInstanceCapacity": kindCapacity,
	"InsufficientVolumeCapacity":           kindCapacity,
	"InsufficientFreeAddressesInSubnet":    kindCapacity,
	"Unsupported":                          kindCapacity, // the type is not offered in that zone
	"SpotMaxPriceTooLow":                   kindCapacity,

	"InstanceLimitExceeded":        kindQuota,
	"VcpuLimitExceeded":            kindQuota,
	"MaxSpotInstanceCountExceeded": kindQuota,
	"VolumeLimitExceeded":          kindQuota,
	"LimitExceeded":                kindQuota,
	"ResourceLimitExceeded":        kindQuota,
	"AddressLimitExceeded":         kindQuota,
	"TooManyLoadBalancers":         kindQuota,
	"TooManyTargetGroups":          kindQuota,
	"TooManyTargets":               kindQuota,
	"TooManyListeners":             kindQuota,

	"AuthFailure":                 kindAuth,
	"UnauthorizedOperation":       kindAuth,
	"InvalidClientTokenId":        kindAuth,
	"SignatureDoesNotMatch":       kindAuth,
	"AccessDenied":                kindAuth,
	"AccessDeniedException":       kindAuth,
	"ExpiredToken":                kindAuth,
	"ExpiredTokenException":       kindAuth,
	"MissingAuthenticationToken":  kindAuth,
	"IncompleteSignature":         kindAuth,
	"UnrecognizedClientException": kindAuth,
	"OptInRequired":               kindAuth,
	"Blocked":                     kindAuth,

	"ValidationError":                              kindInvalid,
	"InvalidParameterValue":                        kindInvalid,
	"InvalidParameterCombination":                  kindInvalid,
	"InvalidParameter":                             kindInvalid,
	"MissingParameter":                             kindInvalid,
	"UnknownParameter":                             kindInvalid,
	"InvalidAMIID.NotFound":                        kindInvalid,
	"InvalidAMIID.Malformed":                       kindInvalid,
	"InvalidAMIID.Unavailable":                     kindInvalid,
	"InvalidSubnetID.NotFound":                     kindInvalid,
	"InvalidVolume.ZoneMismatch":                   kindInvalid,
	"InvalidAttachment.NotFound":                   kindInvalid,
	"VolumeInUse":                                  kindInvalid,
	"IncorrectState":                               kindInvalid,
	"IncorrectInstanceState":                       kindInvalid,
	"InvalidConfigurationRequest":                  kindInvalid,
	"InvalidTarget":                                kindInvalid,
	"InvalidSecurityGroup":                         kindInvalid,
	"InvalidSubnet":                                kindInvalid,
	"SubnetNotFound":                               kindInvalid,
	"IncompatibleProtocols":                        kindInvalid,
	"UnsupportedProtocol":                          kindInvalid,
	"CertificateNotFound":                          kindInvalid,
	"TargetGroupAssociationLimit":                  kindInvalid,
	"IdempotentParameterMismatch":                  kindInvalid,
	"ResourceInUse":                                kindInvalid,
	"InvalidBlockDeviceMapping":                    kindInvalid,
	"InvalidLaunchTemplateName.MalformedException": kindInvalid,
}

// quotaResources names what ran out, for QuotaError.Resource.
var quotaResources = map[string]string{
	"InstanceLimitExceeded":        "instances",
	"VcpuLimitExceeded":            "vcpus",
	"MaxSpotInstanceCountExceeded": "spot instances",
	"VolumeLimitExceeded":          "volumes",
	"AddressLimitExceeded":         "addresses",
	"TooManyLoadBalancers":         "load balancers",
	"TooManyTargetGroups":          "target groups",
	"TooManyTargets":               "targets",
	"TooManyListeners":             "listeners",
}

// target is what a failed call was about, for the typed errors.
type target struct {
	zone, instanceType string
	spot               bool
	// create: the call creates something, so a not-found code names a resource the spec
	// refers to (security group, launch template): ErrInvalid, not ErrNotFound.
	create bool
}

// errCode returns AWS's error code, or "".
func errCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// isCode reports whether err is an AWS error with one of codes.
func isCode(err error, codes ...string) bool {
	c := errCode(err)
	for _, want := range codes {
		if c == want && c != "" {
			return true
		}
	}
	return false
}

// wrap classifies err from the SDK. A done ctx wins: the error then wraps ctx.Err().
func (d *Driver) wrap(ctx context.Context, op string, err error, t target) error {
	if err == nil {
		return nil
	}
	if already, ok := err.(*Error); ok {
		return already
	}
	e := &Error{Op: op, Err: err}
	if ctx.Err() != nil {
		e.Kind = ctx.Err()
		return e
	}
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return e
	}
	e.Code = ae.ErrorCode()
	switch codes[e.Code] {
	case kindNotFound:
		e.Kind = clouds.ErrNotFound
		if t.create {
			e.Kind = clouds.ErrInvalid
		}
	case kindExists:
		e.Kind = clouds.ErrAlreadyExists
	case kindInvalid:
		e.Kind = clouds.ErrInvalid
	case kindCapacity:
		e.Kind = &clouds.CapacityError{Zone: t.zone, InstanceType: t.instanceType,
			Spot: t.spot || e.Code == "SpotMaxPriceTooLow", Msg: ae.ErrorMessage()}
	case kindQuota:
		e.Kind = &clouds.QuotaError{Resource: quotaResources[e.Code], Region: d.cfg.Region, Msg: ae.ErrorMessage()}
	case kindAuth:
		e.Kind = clouds.ErrAuth
	}
	return e
}

// invalid is a caller's mistake found before any call.
func invalid(op, format string, args ...any) error {
	return &Error{Op: op, Kind: clouds.ErrInvalid, Err: fmt.Errorf(format, args...)}
}

// notFound is a missing object found by a describe call that answers "no such" with an
// empty list rather than an error.
func notFound(op, format string, args ...any) error {
	return &Error{Op: op, Kind: clouds.ErrNotFound, Err: fmt.Errorf(format, args...)}
}

// canceled wraps a done ctx before any call.
func canceled(ctx context.Context, op string) error {
	if err := ctx.Err(); err != nil {
		return &Error{Op: op, Err: err}
	}
	return nil
}

// isNotFound reports whether err is (or wraps) clouds.ErrNotFound.
func isNotFound(err error) bool { return errors.Is(err, clouds.ErrNotFound) }
