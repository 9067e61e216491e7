// Package clouds defines what algos needs from an infrastructure provider, split by
// capability: Compute (single instances), Groups (autoscaling groups, managed instance groups,
// scale sets), InstanceTypes (capacity as data), LoadBalancers and Disks. A driver
// (clouds/local, and later aws, gcp, azure, openstack) implements the capabilities its provider
// has and no others; callers find out by type assertion. Every driver passes the conformance
// suite in clouds/cloudtest.
//
// Shared rules for every method of every interface here:
//   - ctx bounds the provider call; cancelling it returns an error wrapping ctx.Err() and
//     leaves the provider in a state a retry converges from.
//   - Implementations are safe for concurrent use.
//   - Errors wrap the sentinels of errors.go (ErrNotFound, ErrAlreadyExists, ErrInvalid,
//     ErrCapacity, ErrQuota, ErrAuth); callers never match on messages.
//   - Deletes are idempotent: deleting what does not exist (any more) returns nil.
package clouds

import "context"

// Compute launches and terminates single instances (VMs). A new instance runs
// InstanceSpec.UserData at boot, as cloud-init does.
type Compute interface {
	// CreateInstance launches one instance and returns it once the provider has accepted it,
	// in state pending or running; it does not wait for boot. Not idempotent: every call
	// launches a new instance. Errors: *CapacityError, *QuotaError, ErrInvalid.
	CreateInstance(ctx context.Context, spec InstanceSpec) (Instance, error)
	// GetInstance returns the instance's current state. Errors: ErrNotFound. A deleted
	// instance may be reported as terminated for a while before it becomes ErrNotFound.
	GetInstance(ctx context.Context, id string) (Instance, error)
	// ListInstances returns the instances matching filter, terminated ones possibly included,
	// in no particular order. It returns what the provider lists at the time of the call:
	// an instance created a moment before may be missing on eventually consistent providers.
	ListInstances(ctx context.Context, filter Filter) ([]Instance, error)
	// DeleteInstance terminates the instance and its disks. Idempotent: an unknown or
	// already-deleted ID returns nil. It may return before the instance is terminated (poll
	// GetInstance to see it); drivers say whether theirs blocks.
	DeleteInstance(ctx context.Context, id string) error
}

// Groups manages instance groups: the provider keeps Desired members of a template running,
// replacing members that fail. Membership changes made by a call take effect asynchronously
// on most providers: poll ListMembers to observe them.
type Groups interface {
	// CreateGroup creates the group and starts launching its Desired members; it does not
	// wait for them. Errors: ErrAlreadyExists when a group of that name exists, ErrInvalid
	// for a spec that fails GroupSpec.Validate or that the provider rejects.
	CreateGroup(ctx context.Context, spec GroupSpec) (Group, error)
	// GetGroup returns the group. Errors: ErrNotFound.
	GetGroup(ctx context.Context, name string) (Group, error)
	// ResizeGroup sets the desired size; the provider launches or terminates members to match
	// (which ones it terminates is its choice: use RemoveMember to pick). Idempotent.
	// Errors: ErrNotFound, ErrInvalid when desired is outside Min..Max.
	ResizeGroup(ctx context.Context, name string, desired int) error
	// ListMembers returns the group's members with their states, in no particular order;
	// members being removed may still be listed as stopping or terminated.
	// Errors: ErrNotFound for the group.
	ListMembers(ctx context.Context, name string) ([]Instance, error)
	// RemoveMember terminates one member. With decrement the desired size drops by one (AWS
	// TerminateInstanceInAutoScalingGroup with ShouldDecrementDesiredCapacity, GCE
	// deleteInstances); without, the provider launches a replacement. Idempotent: an
	// instance that is not (any more) a member returns nil and changes nothing.
	// Errors: ErrNotFound for the group, ErrInvalid when decrement would go below Min.
	RemoveMember(ctx context.Context, group, instanceID string, decrement bool) error
	// DeleteGroup deletes the group and terminates its members. Idempotent. It may return
	// before the members are terminated; drivers say whether theirs blocks.
	DeleteGroup(ctx context.Context, name string) error
}

// InstanceTypes lists what can be bought: capacity as data.
type InstanceTypes interface {
	// InstanceTypes returns every instance type the provider offers in the configured
	// region, with its offerings. Drivers may cache; the result is read-only for callers.
	InstanceTypes(ctx context.Context) ([]InstanceType, error)
}

// LoadBalancers manages network load balancers in front of instances.
type LoadBalancers interface {
	// CreateLoadBalancer creates a load balancer with one listener and one health check and
	// returns once the provider has accepted it (Address may still be empty).
	// Errors: ErrAlreadyExists, ErrInvalid, *QuotaError.
	CreateLoadBalancer(ctx context.Context, spec LoadBalancerSpec) (LoadBalancer, error)
	// GetLoadBalancer returns the load balancer and its targets' health. Errors: ErrNotFound.
	GetLoadBalancer(ctx context.Context, name string) (LoadBalancer, error)
	// RegisterTargets adds instances as targets. Idempotent: registered ones stay.
	// Errors: ErrNotFound for the load balancer.
	RegisterTargets(ctx context.Context, name string, instanceIDs ...string) error
	// DeregisterTargets removes instances as targets. Idempotent: unknown ones are skipped.
	// Errors: ErrNotFound for the load balancer.
	DeregisterTargets(ctx context.Context, name string, instanceIDs ...string) error
	// DeleteLoadBalancer deletes the load balancer. Idempotent.
	DeleteLoadBalancer(ctx context.Context, name string) error
}

// Disks manages standalone block volumes.
type Disks interface {
	// CreateDisk creates an unattached disk and returns once the provider has accepted it
	// (State creating or available). Errors: *CapacityError, *QuotaError, ErrInvalid.
	CreateDisk(ctx context.Context, spec DiskSpec) (Disk, error)
	// GetDisk returns the disk. Errors: ErrNotFound.
	GetDisk(ctx context.Context, id string) (Disk, error)
	// AttachDisk attaches the disk to an instance in the same zone. Idempotent when already
	// attached to that instance. Errors: ErrNotFound (disk or instance), ErrInvalid (attached
	// elsewhere, other zone).
	AttachDisk(ctx context.Context, diskID, instanceID string) error
	// DetachDisk detaches the disk from the instance. Idempotent: a detached disk, or one
	// that does not exist, returns nil.
	DetachDisk(ctx context.Context, diskID, instanceID string) error
	// DeleteDisk deletes a detached disk. Idempotent. Errors: ErrInvalid while attached.
	DeleteDisk(ctx context.Context, id string) error
}
