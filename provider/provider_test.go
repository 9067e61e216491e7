package provider

import (
	"context"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	dschema "github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	rschema "github.com/hashicorp/terraform-plugin-framework/resource/schema"
	tfresource "github.com/hashicorp/terraform-plugin-testing/helper/resource"
)

// TestSchemaDescriptions checks that every attribute of every schema has a description (the
// generated docs are made of them) and that the schemas pass the framework's validation.
func TestSchemaDescriptions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	p := New("test")()
	var presp provider.SchemaResponse
	p.Schema(ctx, provider.SchemaRequest{}, &presp)
	for name, a := range presp.Schema.Attributes {
		if a.GetMarkdownDescription() == "" {
			t.Errorf("provider attribute %s has no description", name)
		}
	}
	for _, f := range p.Resources(ctx) {
		r := f()
		var meta resource.MetadataResponse
		r.Metadata(ctx, resource.MetadataRequest{ProviderTypeName: "algos"}, &meta)
		var resp resource.SchemaResponse
		r.Schema(ctx, resource.SchemaRequest{}, &resp)
		if resp.Diagnostics.HasError() {
			t.Errorf("%s: %v", meta.TypeName, resp.Diagnostics)
		}
		if resp.Schema.MarkdownDescription == "" {
			t.Errorf("%s has no description", meta.TypeName)
		}
		if diags := resp.Schema.ValidateImplementation(ctx); diags.HasError() {
			t.Errorf("%s: %v", meta.TypeName, diags)
		}
		for name, a := range resp.Schema.Attributes {
			checkResourceAttr(t, meta.TypeName+"."+name, a)
		}
	}
	for _, f := range p.DataSources(ctx) {
		d := f()
		var meta datasource.MetadataResponse
		d.Metadata(ctx, datasource.MetadataRequest{ProviderTypeName: "algos"}, &meta)
		var resp datasource.SchemaResponse
		d.Schema(ctx, datasource.SchemaRequest{}, &resp)
		if resp.Schema.MarkdownDescription == "" {
			t.Errorf("data source %s has no description", meta.TypeName)
		}
		if diags := resp.Schema.ValidateImplementation(ctx); diags.HasError() {
			t.Errorf("%s: %v", meta.TypeName, diags)
		}
		for name, a := range resp.Schema.Attributes {
			checkDataSourceAttr(t, meta.TypeName+"."+name, a)
		}
	}
}

func checkResourceAttr(t *testing.T, name string, a rschema.Attribute) {
	t.Helper()
	if a.GetMarkdownDescription() == "" {
		t.Errorf("%s has no description", name)
	}
	if n, ok := a.(rschema.SingleNestedAttribute); ok {
		for sub, sa := range n.Attributes {
			checkResourceAttr(t, name+"."+sub, sa)
		}
	}
}

func checkDataSourceAttr(t *testing.T, name string, a dschema.Attribute) {
	t.Helper()
	if a.GetMarkdownDescription() == "" {
		t.Errorf("%s has no description", name)
	}
	if n, ok := a.(dschema.ListNestedAttribute); ok {
		for sub, sa := range n.NestedObject.Attributes {
			checkDataSourceAttr(t, name+"."+sub, sa)
		}
	}
}

// TestAccProvider_configure checks the diagnostics of a provider block that cannot work.
func TestAccProvider_configure(t *testing.T) {
	block := func(endpoint, key string) string {
		return `
provider "algos" {
  endpoint = "` + endpoint + `"
  api_key  = "` + key + `"
}
data "algos_instance_types" "all" {}
`
	}
	tfresource.ParallelTest(t, tfresource.TestCase{
		ProtoV6ProviderFactories: providerFactories,
		Steps: []tfresource.TestStep{
			{
				Config:      block("http://127.0.0.1:1", "whatever-key-000000000000"),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`(?s)cannot reach the algos control plane at\s+http://127\.0\.0\.1:1.*make dev`),
			},
			{
				Config:      block(testServer.URL, "algos_not-a-valid-key-0000000000"),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`The API key was refused`),
			},
			{
				Config:      block(testServer.URL, ""),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`Missing algos API key`),
			},
			{
				// A working block plans.
				Config: block(testServer.URL, testServer.Key),
			},
		},
	})
}
