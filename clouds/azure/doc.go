// Package azure is the clouds driver for Microsoft Azure, on azcore, azidentity, armcompute
// and armnetwork: virtual machines with one network interface each (clouds.Compute),
// virtual machine scale sets in Uniform orchestration (clouds.Groups), Standard load
// balancers (clouds.LoadBalancers), managed disks (clouds.Disks) and a catalog of VM sizes
// with their per-zone availability (clouds.InstanceTypes). Everything lives in one resource
// group (Config.ResourceGroup) and one region (Config.Location); networking uses an existing
// subnet (Config.SubnetID).
//
// Credentials come the way Azure users expect: azidentity.NewDefaultAzureCredential
// (environment, workload identity, managed identity, Azure CLI, azd), or the service
// principal in Config.TenantID/ClientID/ClientSecret, or Config.Credential. They are never
// logged, nor is user data.
//
// Identifiers. An instance's ID is its VM's resource name, which the driver makes unique
// (InstanceSpec.Name is only a display name, kept in the tag "algos-name"); the VM is also
// its computer name (hostname), so an agent on the VM learns its ID from IMDS
// (metadata/instance/compute/name). A scale set member's ID is its resource name,
// "<scale set>_<instance id>" (Uniform orchestration), which is also what IMDS
// compute/name returns on the member; GetInstance understands both kinds of IDs.
//
// User data. InstanceSpec.UserData is sent as the VM's (or scale set model's)
// osProfile.customData, base64-encoded: cloud-init's Azure datasource reads customData (from
// ovf-env.xml) as its user data. The newer "userData" property is not used: cloud-init does
// not run it, ARM returns it to anyone who can read the VM and IMDS serves it to every
// process on the VM, whereas customData cannot be read back through ARM (it carries a join
// token). At most 65535 bytes, Azure's limit; Linux images only.
//
// States. A VM's state comes from its instance view: PowerState/starting (or no power state
// while provisioning is Creating/Updating) → pending; running → running; stopping and
// deallocating (and provisioning state Deleting) → stopping; stopped, deallocated and
// deleted (and provisioning state Failed without a power state, as a failed allocation
// leaves it) → terminated: algos never restarts a stopped VM, so for it a stopped VM will not
// run again. Disks: provisioning Creating → creating; disk state Unattached → available;
// Attached/Reserved → in-use; provisioning Deleting → deleting.
//
// Blocking. CreateInstance polls the VM's creation to its end: Azure reports allocation
// failures (ZonalAllocationFailed, AllocationFailed …) only there, and callers need them as
// *clouds.CapacityError to fall back to another zone or size. Creating network interfaces,
// public IPs, load balancers and disks, attaching and detaching disks and deleting load
// balancers and disks also poll to the end (seconds). DeleteInstance, and everything about
// scale sets, return once Azure has accepted the request: poll GetInstance or ListMembers.
//
// Errors map to the clouds errors in errors.go. Throttling (429) and transient 5xx answers
// are retried by azcore's retry policy (exponential backoff with jitter, Retry-After
// honored, bounded by ctx) as configured by Config.ClientOptions.Retry (defaults below).
// The driver's own bounded retry (Config.ConsistencyTimeout) covers what Azure asks callers
// to retry: AnotherOperationInProgress and RetryableError conflicts, and a lost race on an
// ETag (412) of a read-modify-write: a VM's data disks (attach, detach), a NIC's backend
// pools (register, deregister).
//
// Permissions. On the resource group: Microsoft.Compute virtualMachines,
// virtualMachineScaleSets (and their virtualMachines), disks: read, write, delete;
// Microsoft.Network networkInterfaces, publicIPAddresses, loadBalancers: read, write, delete,
// and the join actions (networkInterfaces/join, publicIPAddresses/join,
// loadBalancers/backendAddressPools/join) plus the load balancing rules' health action; on
// the subnet: Microsoft.Network/virtualNetworks/subnets/join/action; on the subscription:
// Microsoft.Compute/skus/read. The built-in roles Virtual Machine Contributor and Network
// Contributor on the resource group (and Network Contributor, or a role with the subnet's
// join action, on the virtual network) cover them.
//
// Against a real account: the conformance suites run when ALGOS_AZURE_LIVE=1, with
// AZURE_SUBSCRIPTION_ID, ALGOS_AZURE_RESOURCE_GROUP, ALGOS_AZURE_LOCATION,
// ALGOS_AZURE_SUBNET_ID, ALGOS_AZURE_SSH_PUBLIC_KEY, optionally ALGOS_AZURE_ZONES ("1,2,3")
// and ALGOS_AZURE_SIZE (Standard_D2s_v5), and credentials for DefaultAzureCredential (az
// login, or AZURE_TENANT_ID/AZURE_CLIENT_ID/AZURE_CLIENT_SECRET):
//
//	ALGOS_AZURE_LIVE=1 go test -run TestLive -timeout 60m ./clouds/azure/
//
// They create and delete VMs, scale sets, a load balancer and disks in the resource group,
// and cost money while they run.
package azure
