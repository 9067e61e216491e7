package azurefake

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	azfake "github.com/Azure/azure-sdk-for-go/sdk/azcore/fake"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v8"
	computefake "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v8/fake"
)

type diskState struct {
	disk  armcompute.Disk
	owner string // VM (lower-case name) it is attached to, "" when unattached
}

// diskTypes are the managed disk SKUs Azure accepts.
var diskTypes = []string{"Standard_LRS", "StandardSSD_LRS", "Premium_LRS", "PremiumV2_LRS", "UltraSSD_LRS", "StandardSSD_ZRS", "Premium_ZRS"}

func (s *Server) computeDisks(srv *computefake.DisksServer) {
	srv.BeginCreateOrUpdate = func(_ context.Context, rg, name string, body armcompute.Disk, _ *armcompute.DisksClientBeginCreateOrUpdateOptions) (resp azfake.PollerResponder[armcompute.DisksClientCreateOrUpdateResponse], e azfake.ErrorResponder) {
		s.mu.Lock()
		defer s.mu.Unlock()
		now := time.Now()
		s.advance(now)
		if !s.rgOK(rg) {
			return resp, rgNotFound()
		}
		zone := firstZone(body.Zones)
		switch {
		case body.Properties == nil || deref(body.Properties.DiskSizeGB) <= 0 || len(body.Zones) > 1 || (zone != "" && !s.zoneOK(zone)):
			return resp, invalid()
		case body.SKU != nil && !slices.Contains(diskTypes, string(deref(body.SKU.Name))):
			return resp, invalid()
		case s.disks[strings.ToLower(name)] != nil:
			return resp, errResp(http.StatusConflict, "PropertyChangeNotAllowed") // the fake does not resize disks
		}
		d := s.newDisk(name, body, zone, now)
		return async(http.StatusAccepted, http.StatusOK, armcompute.DisksClientCreateOrUpdateResponse{Disk: s.renderDisk(d)}), e
	}
	srv.Get = func(_ context.Context, rg, name string, _ *armcompute.DisksClientGetOptions) (resp azfake.Responder[armcompute.DisksClientGetResponse], e azfake.ErrorResponder) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.advance(time.Now())
		d := s.disks[strings.ToLower(name)]
		if !s.rgOK(rg) || d == nil {
			return resp, notFound()
		}
		return ok(armcompute.DisksClientGetResponse{Disk: s.renderDisk(d)}), e
	}
	srv.BeginDelete = func(_ context.Context, rg, name string, _ *armcompute.DisksClientBeginDeleteOptions) (resp azfake.PollerResponder[armcompute.DisksClientDeleteResponse], e azfake.ErrorResponder) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.advance(time.Now())
		if !s.rgOK(rg) {
			return resp, rgNotFound()
		}
		key := strings.ToLower(name)
		d := s.disks[key]
		switch {
		case d == nil:
			return done(http.StatusNoContent, armcompute.DisksClientDeleteResponse{}), e
		case d.owner != "":
			return resp, errResp(http.StatusConflict, "OperationNotAllowed")
		}
		delete(s.disks, key)
		return async(http.StatusAccepted, http.StatusOK, armcompute.DisksClientDeleteResponse{}), e
	}
}

// newDisk stores a new managed disk made from body.
func (s *Server) newDisk(name string, body armcompute.Disk, zone string, now time.Time) *diskState {
	disk := clone(body)
	disk.ID = ptr(s.id("Microsoft.Compute", "disks", name))
	disk.Name, disk.Type = ptr(name), ptr("Microsoft.Compute/disks")
	if disk.SKU == nil {
		disk.SKU = &armcompute.DiskSKU{Name: ptr(armcompute.DiskStorageAccountTypesStandardSSDLRS)}
	}
	if zone != "" {
		disk.Zones = []*string{ptr(zone)}
	}
	disk.Properties.TimeCreated = ptr(now.UTC())
	disk.Properties.UniqueID = ptr(randomID())
	disk.Properties.ProvisioningState = ptr("Succeeded")
	d := &diskState{disk: disk}
	s.disks[strings.ToLower(name)] = d
	return d
}

func (s *Server) renderDisk(d *diskState) armcompute.Disk {
	disk := clone(d.disk)
	disk.Properties.DiskState = ptr(armcompute.DiskStateUnattached)
	if d.owner != "" {
		disk.Properties.DiskState = ptr(armcompute.DiskStateAttached)
		disk.ManagedBy = ptr(s.id("Microsoft.Compute", "virtualMachines", s.vmName(d.owner)))
	}
	return disk
}

// vmName is the VM's name as it was created (keys are lower case).
func (s *Server) vmName(key string) string {
	if v := s.vms[key]; v != nil {
		return deref(v.vm.Name)
	}
	return key
}

// sku is a VM size the fake offers.
type sku struct {
	name                string
	vcpus, memGiB, gpus int
	lowPriority         bool
	zones               []string
	restricted          map[string]bool // zones where it is not offered to the subscription
}

// defaultSKUs are the sizes the fake offers: every zone unless noted.
func defaultSKUs(location string, zones []string) []sku {
	two := zones[:min(2, len(zones))]
	return []sku{
		{name: "Standard_B1s", vcpus: 1, memGiB: 1, lowPriority: false, zones: zones},
		{name: "Standard_D2s_v5", vcpus: 2, memGiB: 8, lowPriority: true, zones: zones},
		{name: "Standard_D4s_v5", vcpus: 4, memGiB: 16, lowPriority: true, zones: zones},
		{name: "Standard_E2s_v5", vcpus: 2, memGiB: 16, lowPriority: true, zones: zones},
		{name: "Standard_NC4as_T4_v3", vcpus: 4, memGiB: 28, gpus: 1, lowPriority: true, zones: zones},
		{name: "Standard_NC24ads_A100_v4", vcpus: 24, memGiB: 220, gpus: 1, lowPriority: true, zones: zones},
		{name: "Standard_NV36ads_A10_v5", vcpus: 36, memGiB: 440, gpus: 1, lowPriority: true, zones: zones},
		{name: "Standard_ND96isr_H100_v5", vcpus: 96, memGiB: 1900, gpus: 8, lowPriority: false, zones: two},
	}
}

func (s *Server) sku(name string) *sku {
	for i := range s.skus {
		if strings.EqualFold(s.skus[i].name, name) {
			return &s.skus[i]
		}
	}
	return nil
}

func (s *Server) restricted(size, zone string) bool {
	k := s.sku(size)
	return k != nil && zone != "" && (k.restricted[zone] || !slices.Contains(k.zones, zone))
}

// RestrictSKU makes ResourceSKUs report size as not available to the subscription in zone,
// and creations of it there fail with SkuNotAvailable.
func (s *Server) RestrictSKU(size, zone string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if k := s.sku(size); k != nil {
		if k.restricted == nil {
			k.restricted = map[string]bool{}
		}
		k.restricted[zone] = true
	}
}

func (s *Server) computeSKUs(srv *computefake.ResourceSKUsServer) {
	srv.NewListPager = func(o *armcompute.ResourceSKUsClientListOptions) azfake.PagerResponder[armcompute.ResourceSKUsClientListResponse] {
		s.mu.Lock()
		defer s.mu.Unlock()
		loc := s.opts.Location
		var list armcompute.ResourceSKUsResult
		if o != nil && o.Filter != nil && !strings.EqualFold(*o.Filter, fmt.Sprintf("location eq '%s'", loc)) {
			return onePage(armcompute.ResourceSKUsClientListResponse{ResourceSKUsResult: list})
		}
		list.Value = append(list.Value, &armcompute.ResourceSKU{ // not a VM size: ignored by callers
			ResourceType: ptr("disks"), Name: ptr("Premium_LRS"), Locations: []*string{&loc},
		})
		for _, k := range s.skus {
			capability := func(n, v string) *armcompute.ResourceSKUCapabilities {
				return &armcompute.ResourceSKUCapabilities{Name: ptr(n), Value: ptr(v)}
			}
			r := &armcompute.ResourceSKU{
				ResourceType: ptr("virtualMachines"), Name: ptr(k.name), Tier: ptr("Standard"),
				Size: ptr(strings.TrimPrefix(k.name, "Standard_")), Locations: []*string{ptr(loc)},
				LocationInfo: []*armcompute.ResourceSKULocationInfo{{Location: ptr(loc), Zones: ptrs(k.zones)}},
				Capabilities: []*armcompute.ResourceSKUCapabilities{
					capability("vCPUs", strconv.Itoa(k.vcpus)), capability("MemoryGB", strconv.Itoa(k.memGiB)),
					capability("GPUs", strconv.Itoa(k.gpus)), capability("LowPriorityCapable", strconv.FormatBool(k.lowPriority)),
				},
			}
			var zs []string
			for z := range k.restricted {
				zs = append(zs, z)
			}
			slices.Sort(zs)
			if len(zs) > 0 {
				r.Restrictions = []*armcompute.ResourceSKURestrictions{{
					Type: ptr(armcompute.ResourceSKURestrictionsTypeZone), Values: []*string{ptr(loc)},
					RestrictionInfo: &armcompute.ResourceSKURestrictionInfo{Locations: []*string{ptr(loc)}, Zones: ptrs(zs)},
					ReasonCode:      ptr(armcompute.ResourceSKURestrictionsReasonCodeNotAvailableForSubscription),
				}}
			}
			list.Value = append(list.Value, r)
		}
		return onePage(armcompute.ResourceSKUsClientListResponse{ResourceSKUsResult: list})
	}
}

func ptrs(vs []string) []*string {
	out := make([]*string, len(vs))
	for i := range vs {
		out[i] = ptr(vs[i])
	}
	return out
}

// randomID is a random GUID-shaped string, as ARM's vmId and uniqueId are.
func randomID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}
