package azure

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v8"

	"github.com/algos-dev/algos/clouds"
)

// Tags the driver sets besides the caller's; they are not returned in Instance.Tags,
// Group.Tags or Disk.Tags.
const (
	// tagName keeps InstanceSpec.Name and DiskSpec.Name: display names need not be unique
	// nor valid Azure names, resource names must be both.
	tagName = "algos-name"
	// tagMin and tagMax keep GroupSpec.Min and Max: a scale set has only a capacity.
	tagMin = "algos-min"
	tagMax = "algos-max"
)

// maxCustomData is Azure's limit on decoded customData.
const maxCustomData = 65535

func internalTag(k string) bool {
	switch strings.ToLower(k) {
	case tagName, tagMin, tagMax:
		return true
	}
	return false
}

// azureTags returns user and internal tags as ARM wants them. Internal keys win.
func azureTags(user map[string]string, internal ...string) map[string]*string {
	m := make(map[string]*string, len(user)+len(internal)/2)
	for k, v := range user {
		m[k] = to.Ptr(v)
	}
	for i := 0; i+1 < len(internal); i += 2 {
		m[internal[i]] = to.Ptr(internal[i+1])
	}
	return m
}

// userTags returns the caller's tags of an Azure resource (internal ones removed).
func userTags(tags map[string]*string) map[string]string {
	m := make(map[string]string, len(tags))
	for k, v := range tags {
		if v != nil && !internalTag(k) {
			m[k] = *v
		}
	}
	return m
}

// tag returns the value of key in tags, matched case-insensitively as Azure does.
func tag(tags map[string]*string, key string) (string, bool) {
	for k, v := range tags {
		if strings.EqualFold(k, key) && v != nil {
			return *v, true
		}
	}
	return "", false
}

// uniqueName returns a new resource name: display reduced to lower-case letters, digits
// and hyphens (at most 40 of them, "algos" when nothing is left), a hyphen and 8 random hex
// digits. It is valid for VMs (and their host names), disks and network interfaces.
func uniqueName(display string) string {
	return sanitize(display, 40, "algos") + "-" + randomHex(4)
}

// sanitize keeps lower-case letters, digits and single inner hyphens, at most n of them,
// starting with a letter; fallback when that leaves nothing.
func sanitize(s string, n int, fallback string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9' && b.Len() > 0:
			b.WriteRune(r)
		case b.Len() > 0 && !strings.HasSuffix(b.String(), "-"):
			b.WriteByte('-')
		}
		if b.Len() >= n {
			break
		}
	}
	out := strings.Trim(b.String(), "-")
	if out == "" {
		return fallback
	}
	return out
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return hex.EncodeToString(b)
}

// imageReference parses InstanceSpec.Image: a URN "publisher:offer:sku:version" (as the
// Azure CLI takes), or an image resource ID ("/subscriptions/…/images/…" or a gallery image
// version). "" is DefaultImage.
func imageReference(image string) (*armcompute.ImageReference, error) {
	if image == "" {
		image = DefaultImage
	}
	if strings.HasPrefix(image, "/") {
		return &armcompute.ImageReference{ID: to.Ptr(image)}, nil
	}
	p := strings.Split(image, ":")
	if len(p) != 4 || p[0] == "" || p[1] == "" || p[2] == "" || p[3] == "" {
		return nil, fmt.Errorf("image %q: want a URN \"publisher:offer:sku:version\" (e.g. %q) or an image resource ID: %w",
			image, DefaultImage, clouds.ErrInvalid)
	}
	return &armcompute.ImageReference{Publisher: &p[0], Offer: &p[1], SKU: &p[2], Version: &p[3]}, nil
}

// customData encodes user data as osProfile.customData; nil for none.
func customData(userData string) (*string, error) {
	if userData == "" {
		return nil, nil
	}
	if len(userData) > maxCustomData {
		return nil, fmt.Errorf("user data is %d bytes; Azure custom data holds at most %d: %w", len(userData), maxCustomData, clouds.ErrInvalid)
	}
	return to.Ptr(base64.StdEncoding.EncodeToString([]byte(userData))), nil
}

// lastSegment is the name at the end of a resource ID.
func lastSegment(id string) string {
	if i := strings.LastIndexByte(id, '/'); i >= 0 {
		return id[i+1:]
	}
	return id
}

// segmentAfter returns the path segment after key in a resource ID ("" when absent):
// segmentAfter(".../networkInterfaces/x/ipConfigurations/y", "networkInterfaces") is "x".
func segmentAfter(id, key string) string {
	parts := strings.Split(id, "/")
	for i := 0; i+1 < len(parts); i++ {
		if strings.EqualFold(parts[i], key) {
			return parts[i+1]
		}
	}
	return ""
}

func deref[T any](p *T) T {
	if p == nil {
		var zero T
		return zero
	}
	return *p
}

// DefaultDiskType is the disk type of OS disks, and of data disks whose DiskSpec.Type is
// empty: Standard SSD, which every VM size accepts (Premium SSD needs an "s" size).
const DefaultDiskType = "StandardSSD_LRS"

// diskSKU is the storage account type of a disk type name ("" → DefaultDiskType).
func diskSKU(typ string) *armcompute.DiskStorageAccountTypes {
	if typ == "" {
		typ = DefaultDiskType
	}
	return to.Ptr(armcompute.DiskStorageAccountTypes(typ))
}

// dataDisks are the disks created with a VM (InstanceSpec.Disks), deleted with it.
func dataDisks(vmName string, specs []clouds.DiskSpec) ([]*armcompute.DataDisk, error) {
	var out []*armcompute.DataDisk
	for i, s := range specs {
		if s.SizeGiB <= 0 {
			return nil, fmt.Errorf("disk %d: SizeGiB %d: want a positive size: %w", i, s.SizeGiB, clouds.ErrInvalid)
		}
		typ := string(*diskSKU(s.Type))
		out = append(out, &armcompute.DataDisk{
			Name:         to.Ptr(fmt.Sprintf("%s-data%d", vmName, i)),
			Lun:          to.Ptr(int32(i)),
			CreateOption: to.Ptr(armcompute.DiskCreateOptionTypesEmpty),
			DiskSizeGB:   to.Ptr(int32(s.SizeGiB)),
			DeleteOption: to.Ptr(armcompute.DiskDeleteOptionTypesDelete),
			ManagedDisk:  &armcompute.ManagedDiskParameters{StorageAccountType: to.Ptr(armcompute.StorageAccountTypes(typ))},
		})
	}
	return out, nil
}
