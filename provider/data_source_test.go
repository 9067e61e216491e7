package provider

import (
	"bytes"
	"context"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"

	"github.com/algos-dev/algos/api"
)

func TestAccDataSourceAlgorithm(t *testing.T) {
	ctx := context.Background()
	if _, err := testClient.CreateAlgorithm(ctx, "demo", api.CreateAlgorithm{Name: "tf-ds", Settings: api.Manifest{Runtime: api.RuntimePython}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = testClient.DeleteAlgorithm(context.Background(), "demo", "tf-ds") })
	for i, bump := range []string{"", api.BumpMinor, api.BumpMajor} { // 1.0.0, 1.1.0, 2.0.0
		src := t.TempDir()
		writeFiles(t, src, pySource("v"+bump))
		art, _, err := api.PackSource(src)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := testClient.PublishVersion(ctx, "demo", "tf-ds", bytes.NewReader(art), api.PublishOptions{Bump: bump}); err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
	}
	cfg := providerConfig() + `
data "algos_algorithm" "range" {
  name    = "tf-ds"
  version = "1.*"
}
data "algos_algorithm" "latest" {
  owner = "demo"
  name  = "tf-ds"
}
data "algos_algorithm" "exact" {
  name    = "tf-ds"
  version = "1.0.0"
}
`
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: providerFactories,
		Steps: []resource.TestStep{
			{
				Config: cfg,
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttr("data.algos_algorithm.range", "resolved_version", "1.1.0"),
					resource.TestCheckResourceAttr("data.algos_algorithm.range", "id", "demo/tf-ds/1.1.0"),
					resource.TestCheckResourceAttr("data.algos_algorithm.range", "runtime", "python"),
					resource.TestCheckResourceAttr("data.algos_algorithm.range", "visibility", "public"),
					resource.TestMatchResourceAttr("data.algos_algorithm.range", "digest", regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)),
					resource.TestCheckResourceAttr("data.algos_algorithm.latest", "resolved_version", "2.0.0"),
					resource.TestCheckResourceAttr("data.algos_algorithm.exact", "resolved_version", "1.0.0"),
				),
			},
			{
				Config: providerConfig() + `
data "algos_algorithm" "bad" {
  name    = "tf-ds"
  version = "1.x.y"
}
`,
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`must be an exact semantic version`),
			},
			{
				// A range nothing matches is the API's error.
				Config: providerConfig() + `
data "algos_algorithm" "none" {
  name    = "tf-ds"
  version = "3.*"
}
`,
				ExpectError: regexp.MustCompile(`Cannot resolve version 3\.\* of demo/tf-ds`),
			},
		},
	})
}

func TestAccDataSourceInstanceTypes(t *testing.T) {
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: providerFactories,
		Steps: []resource.TestStep{{
			Config: providerConfig() + `
data "algos_instance_types" "local" {
  cloud = "local"
}
data "algos_instance_types" "h100" {
  gpu_model = "H100"
}
data "algos_instance_types" "big" {
  min_memory_mib = 1073741824
}
`,
			Check: resource.ComposeAggregateTestCheckFunc(
				resource.TestCheckResourceAttr("data.algos_instance_types.local", "instance_types.#", "1"),
				resource.TestCheckResourceAttr("data.algos_instance_types.local", "instance_types.0.cloud", "local"),
				resource.TestCheckResourceAttr("data.algos_instance_types.local", "instance_types.0.name", "local"),
				resource.TestCheckResourceAttr("data.algos_instance_types.local", "instance_types.0.gpu_count", "0"),
				resource.TestCheckResourceAttr("data.algos_instance_types.local", "instance_types.0.zones.#", "1"),
				resource.TestCheckResourceAttr("data.algos_instance_types.local", "instance_types.0.zones.0", "local"),
				resource.TestCheckResourceAttr("data.algos_instance_types.local", "instance_types.0.spot", "false"),
				resource.TestMatchResourceAttr("data.algos_instance_types.local", "instance_types.0.vcpu", regexp.MustCompile(`^[1-9]`)),
				resource.TestCheckResourceAttr("data.algos_instance_types.h100", "instance_types.#", "0"),
				resource.TestCheckResourceAttr("data.algos_instance_types.big", "instance_types.#", "0"),
			),
		}},
	})
}
