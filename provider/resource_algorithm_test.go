package provider

import (
	"bytes"
	"context"
	"fmt"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/algos-dev/algos/api"
)

// algorithmConfig is an algos_algorithm "a" publishing src, with extra arguments. Its workers
// run in the dev pool, which no test deletes: other tests create and destroy pools meanwhile.
func algorithmConfig(name, src, extra string) string {
	return providerConfig() + fmt.Sprintf(`
resource "algos_algorithm" "a" {
  name      = %q
  runtime   = "python"
  source    = %q
  node_pool = "default"
%s
}
`, name, src, extra)
}

// checkCall calls the algorithm through the API and expects a text result.
func checkCall(algo, want string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		resp, err := testClient.Call(context.Background(), algo, "application/json", []byte(`"terraform"`), api.CallOptions{})
		if err != nil {
			return fmt.Errorf("call %s: %w", algo, err)
		}
		got, err := resp.Text()
		if err != nil {
			return fmt.Errorf("call %s: %w (result %s)", algo, err, resp.Result)
		}
		if got != want {
			return fmt.Errorf("call %s = %q, want %q", algo, got, want)
		}
		return nil
	}
}

// checkAlgorithmsGone asserts through the API that none of the algorithms exists.
func checkAlgorithmsGone(names ...string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		for _, n := range names {
			_, err := testClient.GetAlgorithm(context.Background(), "demo", n)
			if !isNotFound(err) {
				return fmt.Errorf("algorithm demo/%s: got %v, want 404", n, err)
			}
		}
		return nil
	}
}

func TestAccAlgorithm(t *testing.T) {
	src := t.TempDir()
	writeFiles(t, src, pySource("v1"))
	const addr = "algos_algorithm.a"
	settings := `
  description = "second"
  timeout     = 60
  resources   = { cpu = 0.5, memory_mib = 256 }
  scaling     = { max_instances = 2, idle_timeout = "1m", predictive = false }
  network     = true
  call_other_algorithms = false`
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: providerFactories,
		CheckDestroy:             checkAlgorithmsGone("tf-algo", "tf-algo-renamed"),
		Steps: []resource.TestStep{
			{
				Config: algorithmConfig("tf-algo", src, `  description = "first"`),
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttr(addr, "id", "demo/tf-algo"),
					resource.TestCheckResourceAttr(addr, "owner", "demo"),
					resource.TestCheckResourceAttr(addr, "version", "1.0.0"),
					resource.TestCheckResourceAttr(addr, "latest_version", "1.0.0"),
					resource.TestCheckResourceAttr(addr, "visibility", "public"),
					resource.TestCheckResourceAttr(addr, "version_bump", "minor"),
					resource.TestMatchResourceAttr(addr, "source_hash", regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)),
					checkCall("demo/tf-algo", "v1"),
				),
			},
			{
				// After a refresh the plan is empty.
				Config:             algorithmConfig("tf-algo", src, `  description = "first"`),
				PlanOnly:           true,
				ExpectNonEmptyPlan: false,
			},
			{
				ResourceName:            addr,
				ImportState:             true,
				ImportStateVerify:       true,
				ImportStateVerifyIgnore: []string{"source"},
			},
			{
				// Settings change in place and publish nothing.
				Config: algorithmConfig("tf-algo", src, settings),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate),
					plancheck.ExpectKnownValue(addr, tfjsonpath.New("version"), knownvalue.StringExact("1.0.0")),
				}},
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttr(addr, "version", "1.0.0"),
					resource.TestCheckResourceAttr(addr, "resources.memory_mib", "256"),
					checkSettings("tf-algo", func(a api.Algorithm) error {
						if a.Description != "second" || a.Settings.Timeout != 60 || a.Settings.Resources.CPU != 0.5 ||
							a.Settings.Scaling.IdleTimeout != "1m" || a.Settings.NodePool != "default" ||
							!a.Settings.Network || a.Settings.MayCallOthers() || a.Settings.Scaling.PredictiveOn() {
							return fmt.Errorf("settings not updated: %+v", a)
						}
						return nil
					}),
					checkCall("demo/tf-algo", "v1"),
				),
			},
			{
				// Editing the source publishes the next minor version.
				PreConfig: func() { writeFiles(t, src, pySource("v2")) },
				Config:    algorithmConfig("tf-algo", src, settings),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate),
					plancheck.ExpectUnknownValue(addr, tfjsonpath.New("version")),
				}},
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttr(addr, "version", "1.1.0"),
					resource.TestCheckResourceAttr(addr, "latest_version", "1.1.0"),
					checkCall("demo/tf-algo", "v2"),
				),
			},
			{
				// With version_bump = "patch" the next edit publishes a patch.
				PreConfig: func() { writeFiles(t, src, pySource("v3")) },
				Config:    algorithmConfig("tf-algo", src, settings+"\n  version_bump = \"patch\""),
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttr(addr, "version", "1.1.1"),
					checkCall("demo/tf-algo", "v3"),
				),
			},
			{
				// A new name is a new algorithm.
				Config: algorithmConfig("tf-algo-renamed", src, settings),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(addr, plancheck.ResourceActionDestroyBeforeCreate),
				}},
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttr(addr, "id", "demo/tf-algo-renamed"),
					resource.TestCheckResourceAttr(addr, "version", "1.0.0"),
					checkAlgorithmsGone("tf-algo"),
					checkCall("demo/tf-algo-renamed", "v3"),
				),
			},
		},
	})
}

func TestAccAlgorithm_drift(t *testing.T) {
	src := t.TempDir()
	writeFiles(t, src, pySource("mine"))
	const addr = "algos_algorithm.a"
	cfg := algorithmConfig("tf-drift", src, "")
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: providerFactories,
		CheckDestroy:             checkAlgorithmsGone("tf-drift"),
		Steps: []resource.TestStep{
			{Config: cfg, Check: resource.TestCheckResourceAttr(addr, "version", "1.0.0")},
			{
				// Deleted outside Terraform: the plan creates it again.
				PreConfig: func() {
					if err := testClient.DeleteAlgorithm(context.Background(), "demo", "tf-drift"); err != nil {
						t.Fatal(err)
					}
				},
				Config:             cfg,
				PlanOnly:           true,
				ExpectNonEmptyPlan: true,
				ConfigPlanChecks: resource.ConfigPlanChecks{PostApplyPostRefresh: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(addr, plancheck.ResourceActionCreate),
				}},
			},
			{Config: cfg, Check: resource.ComposeAggregateTestCheckFunc(
				resource.TestCheckResourceAttr(addr, "version", "1.0.0"),
				checkCall("demo/tf-drift", "mine"),
			)},
			{
				// A version published outside Terraform: the plan publishes the source again.
				PreConfig: func() {
					other := t.TempDir()
					writeFiles(t, other, pySource("theirs"))
					art, _, err := api.PackSource(other)
					if err != nil {
						t.Fatal(err)
					}
					if _, err := testClient.PublishVersion(context.Background(), "demo", "tf-drift", bytes.NewReader(art), api.PublishOptions{}); err != nil {
						t.Fatal(err)
					}
				},
				Config:             cfg,
				PlanOnly:           true,
				ExpectNonEmptyPlan: true,
				ConfigPlanChecks: resource.ConfigPlanChecks{PostApplyPostRefresh: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate),
					plancheck.ExpectUnknownValue(addr, tfjsonpath.New("version")),
				}},
			},
			{Config: cfg, Check: resource.ComposeAggregateTestCheckFunc(
				resource.TestCheckResourceAttr(addr, "version", "1.2.0"),
				resource.TestCheckResourceAttr(addr, "latest_version", "1.2.0"),
				checkCall("demo/tf-drift", "mine"),
			)},
		},
	})
}

func TestAccAlgorithm_badInput(t *testing.T) {
	src := t.TempDir()
	writeFiles(t, src, pySource("x"))
	plan := func(cfg, errRE string) resource.TestStep {
		return resource.TestStep{Config: cfg, PlanOnly: true, ExpectError: regexp.MustCompile(errRE)}
	}
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: providerFactories,
		CheckDestroy:             checkAlgorithmsGone("tf-bad"),
		Steps: []resource.TestStep{
			plan(algorithmConfig("tf-bad", src+"/does-not-exist", ""), `Source directory not found`),
			plan(algorithmConfig("9bad", src, ""), `must be 1 to 64 letters`),
			plan(algorithmConfig("tf-bad", src, `  output = "json"`), `output is for exec algorithms only`),
			plan(algorithmConfig("tf-bad", src, `  scaling = { idle_timeout = "soon" }`), `Invalid duration`),
			plan(algorithmConfig("tf-bad", src, `  timeout = 4000`), `Invalid Attribute Value`),
			{
				// The control plane refuses the first version (a go algorithm without go.mod): the
				// apply fails and the algorithm it created is deleted again (CheckDestroy).
				Config: providerConfig() + fmt.Sprintf(`
resource "algos_algorithm" "a" {
  name    = "tf-bad"
  runtime = "go"
  source  = %q
}
`, src),
				ExpectError: regexp.MustCompile(`(?s)Cannot publish a version of demo/tf-bad.*go\.mod`),
			},
		},
	})
}

// checkSettings reads the algorithm through the API and checks it.
func checkSettings(name string, check func(api.Algorithm) error) resource.TestCheckFunc {
	return func(*terraform.State) error {
		a, err := testClient.GetAlgorithm(context.Background(), "demo", name)
		if err != nil {
			return err
		}
		return check(a)
	}
}
