package clouds

import (
	"fmt"
	"time"
)

// InstanceState is a provider's instance state normalized to four values.
type InstanceState string

const (
	// StatePending: accepted, not yet running (booting, provisioning, staging).
	StatePending InstanceState = "pending"
	// StateRunning: the machine runs; its software may still be starting.
	StateRunning InstanceState = "running"
	// StateStopping: being stopped or terminated.
	StateStopping InstanceState = "stopping"
	// StateTerminated: gone, or stopped for good; it will not run again.
	StateTerminated InstanceState = "terminated"
)

// Active reports whether the instance is pending or running.
func (s InstanceState) Active() bool { return s == StatePending || s == StateRunning }

// InstanceSpec is what CreateInstance launches and what a group's members are made from.
type InstanceSpec struct {
	Name         string // display name; "" lets the driver choose. Not necessarily unique.
	Image        string // provider image (AMI ID, image URL, image name); drivers may ignore it
	InstanceType string // InstanceType.Name
	Zone         string // "" lets the provider choose
	Spot         bool
	Tags         map[string]string // copied onto the instance; ListInstances filters on them
	// UserData is the boot script (cloud-init user data). It carries a join token: drivers
	// never log it.
	UserData string
	Disks    []DiskSpec // extra disks created and attached at launch
}

// Instance is a provider's view of one instance at one moment.
type Instance struct {
	ID             string
	Name           string
	State          InstanceState
	InstanceType   string
	Zone           string
	Spot           bool
	Tags           map[string]string
	PrivateAddress string // "" until assigned
	PublicAddress  string // "" when none
	LaunchedAt     time.Time
}

// Filter selects instances. The zero Filter matches every instance.
type Filter struct {
	// Tags: an instance matches when it carries every key with the given value.
	Tags map[string]string
}

// Match reports whether an instance with these tags matches f.
func (f Filter) Match(tags map[string]string) bool {
	for k, v := range f.Tags {
		if got, ok := tags[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// GroupSpec describes an instance group (AWS Auto Scaling group, GCE managed instance group,
// Azure scale set, OpenStack Heat/Senlin group): Desired copies of Template across Zones.
type GroupSpec struct {
	Name     string       // unique per provider account and region
	Template InstanceSpec // Template.Zone is ignored: members go to Zones
	Zones    []string     // nil lets the provider choose
	Min      int
	Max      int
	Desired  int
}

// Validate checks what every provider requires: a name and 0 <= Min <= Desired <= Max.
// Errors wrap ErrInvalid.
func (s GroupSpec) Validate() error {
	switch {
	case s.Name == "":
		return fmt.Errorf("group spec: name is empty: %w", ErrInvalid)
	case s.Min < 0 || s.Min > s.Max:
		return fmt.Errorf("group %q: min %d, max %d: want 0 <= min <= max: %w", s.Name, s.Min, s.Max, ErrInvalid)
	case s.Desired < s.Min || s.Desired > s.Max:
		return fmt.Errorf("group %q: desired %d outside min %d..max %d: %w", s.Name, s.Desired, s.Min, s.Max, ErrInvalid)
	}
	return nil
}

// Group is a provider's view of one instance group. Members are listed by ListMembers.
type Group struct {
	Name         string
	Min          int
	Max          int
	Desired      int
	Zones        []string
	InstanceType string
	Spot         bool
	Tags         map[string]string // the template's tags, carried by every member
	CreatedAt    time.Time
}

// GPU is one kind of accelerator on an instance type.
type GPU struct {
	Model     string // e.g. "NVIDIA H100"
	Count     int
	MemoryMiB int // per GPU
}

// Offering is where and how an instance type can be bought.
type Offering struct {
	Zone         string
	Spot         bool
	Available    bool    // the provider currently offers it (not a capacity promise)
	PricePerHour float64 // USD; spot prices move
}

// InstanceType is capacity as data: what a type has, what it costs, where it is offered.
type InstanceType struct {
	Name         string
	Arch         string // Go names: "amd64", "arm64"
	VCPU         int
	MemoryMiB    int
	GPUs         []GPU   // nil when none
	PricePerHour float64 // USD, on demand, list price
	Offerings    []Offering
}

// GPUCount is the number of GPUs of all kinds.
func (t InstanceType) GPUCount() int {
	n := 0
	for _, g := range t.GPUs {
		n += g.Count
	}
	return n
}

// Protocol is a load balancer listener or health check protocol.
type Protocol string

const (
	ProtocolTCP   Protocol = "tcp"
	ProtocolHTTP  Protocol = "http"
	ProtocolHTTPS Protocol = "https"
)

// HealthCheck is how a load balancer decides a target is healthy.
type HealthCheck struct {
	Protocol           Protocol
	Port               int    // on the target
	Path               string // for http and https
	Interval           time.Duration
	Timeout            time.Duration
	HealthyThreshold   int
	UnhealthyThreshold int
}

// LoadBalancerSpec describes a load balancer forwarding Port to TargetPort on its targets.
type LoadBalancerSpec struct {
	Name          string // unique per provider account and region
	Zones         []string
	Internal      bool // reachable only inside the network
	Protocol      Protocol
	Port          int
	TargetPort    int
	CertificateID string // for https: provider certificate ID or ARN
	HealthCheck   HealthCheck
	Tags          map[string]string
}

// TargetHealth is a target's normalized health.
type TargetHealth string

const (
	TargetHealthy   TargetHealth = "healthy"
	TargetUnhealthy TargetHealth = "unhealthy"
	TargetUnknown   TargetHealth = "unknown" // registering, draining, not yet checked
)

// Target is one registered instance.
type Target struct {
	InstanceID string
	Health     TargetHealth
}

// LoadBalancer is a provider's view of one load balancer.
type LoadBalancer struct {
	Name    string
	ID      string
	Address string // DNS name or IP clients connect to
	Port    int
	Targets []Target
}

// DiskSpec describes a block volume, standalone (Disks.CreateDisk) or created with an
// instance (InstanceSpec.Disks).
type DiskSpec struct {
	Name    string
	SizeGiB int
	Type    string // provider volume type ("gp3", "pd-ssd", "Premium_LRS"); "" for default
	Zone    string // ignored in InstanceSpec.Disks: the instance's zone
	Tags    map[string]string
}

// DiskState is a disk's normalized state.
type DiskState string

const (
	DiskCreating  DiskState = "creating"
	DiskAvailable DiskState = "available"
	DiskInUse     DiskState = "in-use"
	DiskDeleting  DiskState = "deleting"
)

// Disk is a provider's view of one block volume.
type Disk struct {
	ID         string
	Name       string
	SizeGiB    int
	Type       string
	Zone       string
	State      DiskState
	InstanceID string // attached to; "" when detached
	Tags       map[string]string
}
