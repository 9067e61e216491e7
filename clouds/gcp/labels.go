package gcp

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"cloud.google.com/go/compute/apiv1/computepb"

	"github.com/algos-dev/algos/clouds"
)

// Metadata keys the driver sets on instances and templates.
const (
	// MetadataUserData holds InstanceSpec.UserData; cloud-init's GCE datasource reads it.
	MetadataUserData = "user-data"
	// MetadataName holds InstanceSpec.Name, which GCE names cannot always carry.
	MetadataName = "algos-name"
	// MetadataTags holds the exact tags, as a JSON object; labels hold them sanitized.
	MetadataTags = "algos-tags"
	// LabelGroup is the label carrying a group's name on its template and members.
	LabelGroup = "algos_group"
)

// descTagsPrefix starts the description of disks and forwarding rules that keeps exact tags.
const descTagsPrefix = "algos-tags:"

// maxLabels is GCE's limit of labels per resource.
const maxLabels = 64

// SanitizeLabel turns s into a valid GCE label value: lower case, every character other
// than a-z, 0-9, '_' and '-' replaced by '_', cut to 63 bytes. GCE also accepts
// international letters; they become '_' here too, so that labels are plain ASCII.
func SanitizeLabel(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if b.Len() == 63 {
			break
		}
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '_', r == '-':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	return b.String()
}

// SanitizeLabelKey turns s into a valid GCE label key: SanitizeLabel, and a key that would
// not start with a letter (an empty one included) gets the prefix "t_" (then cut to 63).
func SanitizeLabelKey(s string) string {
	k := SanitizeLabel(s)
	if k == "" || k[0] < 'a' || k[0] > 'z' {
		k = SanitizeLabel("t_" + k)
	}
	return k
}

// labelsFor returns tags as GCE labels plus extra (the driver's own, already valid).
// Errors: ErrInvalid when two tags sanitize to the same key, or a tag to a key of extra,
// or when there are more than GCE's 64 labels.
func labelsFor(tags, extra map[string]string) (map[string]string, error) {
	if len(tags)+len(extra) > maxLabels {
		return nil, fmt.Errorf("gcp: %d tags: GCE allows %d labels per resource: %w", len(tags), maxLabels-len(extra), clouds.ErrInvalid)
	}
	labels := make(map[string]string, len(tags)+len(extra))
	from := make(map[string]string, len(tags))
	for k, v := range extra {
		labels[k] = v
		from[k] = "(the driver's own label)"
	}
	keys := make([]string, 0, len(tags))
	for k := range tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		lk := SanitizeLabelKey(k)
		if prev, dup := from[lk]; dup {
			return nil, fmt.Errorf("gcp: tags %q and %q both become GCE label %q: rename one: %w", prev, k, lk, clouds.ErrInvalid)
		}
		from[lk] = k
		labels[lk] = SanitizeLabel(tags[k])
	}
	return labels, nil
}

// labelFilter is the GCE list filter narrowing a list to resources whose labels carry tags
// (sanitized); "" for none. Only keys of letters, digits and '_' go into the filter (GCE's
// filter grammar may read '-' in a field path as an operator); callers match the exact tags
// afterwards anyway. Sanitized values hold only [a-z0-9_-], so quoting them is safe.
func labelFilter(tags map[string]string) string {
	keys := make([]string, 0, len(tags))
	for k := range tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		if lk := SanitizeLabelKey(k); !strings.Contains(lk, "-") {
			parts = append(parts, fmt.Sprintf(`(labels.%s = "%s")`, lk, SanitizeLabel(tags[k])))
		}
	}
	return strings.Join(parts, " ")
}

// metadataFor is the metadata of a new instance or template: user data, display name and
// exact tags, each only when set.
func metadataFor(spec clouds.InstanceSpec) *computepb.Metadata {
	var items []*computepb.Items
	add := func(k, v string) {
		items = append(items, &computepb.Items{Key: ptr(k), Value: ptr(v)})
	}
	if spec.UserData != "" {
		add(MetadataUserData, spec.UserData)
	}
	if spec.Name != "" {
		add(MetadataName, spec.Name)
	}
	if len(spec.Tags) > 0 {
		add(MetadataTags, encodeTags(spec.Tags))
	}
	return &computepb.Metadata{Items: items}
}

// metadataValue returns the value of key in md.
func metadataValue(md *computepb.Metadata, key string) (string, bool) {
	for _, it := range md.GetItems() {
		if it.GetKey() == key {
			return it.GetValue(), true
		}
	}
	return "", false
}

// tagsOf returns the exact tags kept in md, or else the labels.
func tagsOf(md *computepb.Metadata, labels map[string]string) map[string]string {
	if s, ok := metadataValue(md, MetadataTags); ok {
		if tags, ok := decodeTags(s); ok {
			return tags
		}
	}
	return userLabels(labels)
}

// userLabels returns labels without the driver's own.
func userLabels(labels map[string]string) map[string]string {
	out := make(map[string]string, len(labels))
	for k, v := range labels {
		if k != LabelGroup {
			out[k] = v
		}
	}
	return out
}

// descTags is a description that keeps exact tags; tagsOfDesc reads it back, or else the labels.
func descTags(tags map[string]string) string {
	if len(tags) == 0 {
		return ""
	}
	return descTagsPrefix + encodeTags(tags)
}

func tagsOfDesc(desc string, labels map[string]string) map[string]string {
	if s, ok := strings.CutPrefix(desc, descTagsPrefix); ok {
		if tags, ok := decodeTags(s); ok {
			return tags
		}
	}
	return userLabels(labels)
}

func encodeTags(tags map[string]string) string {
	b, _ := json.Marshal(tags) // a map[string]string always marshals
	return string(b)
}

func decodeTags(s string) (map[string]string, bool) {
	var tags map[string]string
	if err := json.Unmarshal([]byte(s), &tags); err != nil {
		return nil, false
	}
	return tags, true
}

func ptr[T any](v T) *T { return &v }
