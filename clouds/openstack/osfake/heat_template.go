package osfake

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
)

// The HOT template subset the fake runs: parameters (string, number, json; defaults;
// hidden) and one OS::Heat::AutoScalingGroup of OS::Nova::Server, with get_param resolved
// anywhere in its properties. Templates come in their JSON form (JSON is YAML; the driver
// sends JSON).

type hotTemplate struct {
	Version     string                    `json:"heat_template_version"`
	Description string                    `json:"description"`
	Parameters  map[string]hotParam       `json:"parameters"`
	Resources   map[string]hotResource    `json:"resources"`
	Outputs     map[string]map[string]any `json:"outputs"`
}

type hotParam struct {
	Type    string `json:"type"`
	Default any    `json:"default"`
	Hidden  bool   `json:"hidden"`
}

type hotResource struct {
	Type       string         `json:"type"`
	Properties map[string]any `json:"properties"`
}

// group is an AutoScalingGroup resolved against a stack's parameters.
type group struct {
	min, max, desired int
	server            serverReq
	def               string
}

type stackReq struct {
	Name       string          `json:"stack_name"`
	Template   json.RawMessage `json:"template"`
	Parameters map[string]any  `json:"parameters"`
}

// parseTemplate reads a HOT template given as a JSON string or object.
func parseTemplate(raw json.RawMessage) (*hotTemplate, error) {
	var text string
	if err := json.Unmarshal(raw, &text); err == nil {
		raw = json.RawMessage(text)
	}
	var t hotTemplate
	if err := json.Unmarshal(raw, &t); err != nil {
		return nil, fmt.Errorf("the template is not a JSON object (the fake reads HOT in its JSON form): %v", err)
	}
	if t.Version == "" {
		return nil, fmt.Errorf("template format version not found")
	}
	return &t, nil
}

// paramString stores a parameter value as Heat does: strings as they are, others as JSON.
func paramString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// resolve builds the stack's group from its template and parameters, validating both as
// Heat does at create and update. The caller holds s.mu.
func (s *Server) resolve(st *stack) (*group, int, string, string) {
	values := map[string]any{}
	for name, p := range st.tmpl.Parameters {
		raw, given := st.params[name]
		if !given {
			if p.Default == nil {
				return nil, 400, "UserParameterMissing", fmt.Sprintf("The Parameter (%s) was not provided.", name)
			}
			raw = paramString(p.Default)
		}
		switch p.Type {
		case "number":
			f, err := strconv.ParseFloat(raw, 64)
			if err != nil {
				return nil, 400, "StackValidationFailed", fmt.Sprintf("Parameter '%s' is invalid: could not convert string to float: '%s'", name, raw)
			}
			values[name] = f
		case "json":
			var v any
			if err := json.Unmarshal([]byte(raw), &v); err != nil {
				return nil, 400, "StackValidationFailed", fmt.Sprintf("Parameter '%s' is invalid: Value must be valid JSON", name)
			}
			values[name] = v
		default:
			values[name] = raw
		}
	}
	for name := range st.params {
		if _, ok := st.tmpl.Parameters[name]; !ok {
			return nil, 400, "UnknownUserParameter", fmt.Sprintf("The Parameter (%s) was not defined in template.", name)
		}
	}
	var g *group
	for rname, res := range st.tmpl.Resources {
		if res.Type != "OS::Heat::AutoScalingGroup" || g != nil {
			return nil, 400, "StackValidationFailed", fmt.Sprintf("The Resource Type (%s) could not be found (the fake runs one OS::Heat::AutoScalingGroup).", res.Type)
		}
		props, _ := getParams(res.Properties, values).(map[string]any)
		num := func(k string) int { f, _ := props[k].(float64); return int(f) }
		g = &group{min: num("min_size"), max: num("max_size"), desired: num("max_size")}
		if _, ok := props["desired_capacity"]; ok {
			g.desired = num("desired_capacity")
		}
		if g.min > g.max || g.desired < g.min || g.desired > g.max {
			return nil, 400, "StackValidationFailed", fmt.Sprintf("Property error: resources.%s.properties: min_size %d, max_size %d, desired_capacity %d: min_size can not be greater than max_size and desired_capacity must be between them", rname, g.min, g.max, g.desired)
		}
		member, _ := props["resource"].(map[string]any)
		if member["type"] != "OS::Nova::Server" {
			return nil, 400, "StackValidationFailed", fmt.Sprintf("The Resource Type (%v) could not be found (the fake's groups run OS::Nova::Server).", member["type"])
		}
		sp, _ := member["properties"].(map[string]any)
		str := func(k string) string { v, _ := sp[k].(string); return v }
		img := s.imageByRef(str("image"))
		if img == "" {
			return nil, 400, "StackValidationFailed", fmt.Sprintf("Property error: resources.%s.properties.resource.properties.image: Error validating value '%s': No images matching {'name': '%s'}.", rname, str("image"), str("image"))
		}
		f := s.flavor(str("flavor"))
		if f == nil {
			return nil, 400, "StackValidationFailed", fmt.Sprintf("Property error: resources.%s.properties.resource.properties.flavor: Error validating value '%s': No Flavor matching {'name': '%s'}.", rname, str("flavor"), str("flavor"))
		}
		g.server = serverReq{imageID: img, flavorID: f.ID, zone: str("availability_zone"), keyName: str("key_name"),
			userData: base64.StdEncoding.EncodeToString([]byte(str("user_data"))), metadata: map[string]string{}}
		if md, ok := sp["metadata"].(map[string]any); ok {
			for k, v := range md {
				g.server.metadata[k] = paramString(v)
			}
		}
		if sgs, ok := sp["security_groups"].([]any); ok {
			for _, sg := range sgs {
				g.server.secGroups = append(g.server.secGroups, paramString(sg))
			}
		}
		if bdms, ok := sp["block_device_mapping_v2"].([]any); ok {
			for _, b := range bdms {
				m, _ := b.(map[string]any)
				size, _ := m["volume_size"].(float64)
				del, _ := m["delete_on_termination"].(bool)
				g.server.blank = append(g.server.blank, blankDisk{size: int(size), deleteOnTermination: del})
			}
		}
		def, _ := json.Marshal(sp)
		g.def = string(def)
		st.groupName = rname
	}
	if g == nil {
		return nil, 400, "StackValidationFailed", "The template has no OS::Heat::AutoScalingGroup."
	}
	return g, 0, "", ""
}

// getParams replaces {"get_param": name} in v with the parameter's value.
func getParams(v any, values map[string]any) any {
	switch x := v.(type) {
	case map[string]any:
		if name, ok := x["get_param"].(string); ok && len(x) == 1 {
			return values[name]
		}
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = getParams(e, values)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = getParams(e, values)
		}
		return out
	}
	return v
}

// imageByRef resolves an image name or ID. The caller holds s.mu.
func (s *Server) imageByRef(ref string) string {
	if s.images[ref] != "" {
		return ref
	}
	for id, name := range s.images {
		if name == ref {
			return id
		}
	}
	return ""
}
