package provider

import (
	"context"
	"fmt"
	"regexp"
	"sync"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/algos-dev/algos/api"
)

func keyConfig(body string) string {
	return providerConfig() + fmt.Sprintf("\nresource \"algos_api_key\" \"k\" {\n%s\n}\n", body)
}

// keySet records the key IDs a test created, to check that they are revoked at the end.
type keySet struct {
	mu  sync.Mutex
	ids []string
}

// checkWorks records the key and checks that its secret authenticates as demo.
func (ks *keySet) checkWorks(addr string) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		rs, ok := s.RootModule().Resources[addr]
		if !ok {
			return fmt.Errorf("%s not in the state", addr)
		}
		ks.mu.Lock()
		ks.ids = append(ks.ids, rs.Primary.ID)
		ks.mu.Unlock()
		secret := rs.Primary.Attributes["secret"]
		if secret == "" || rs.Primary.Attributes["prefix"] != secret[:len(rs.Primary.Attributes["prefix"])] {
			return fmt.Errorf("secret %q does not start with prefix %q", secret, rs.Primary.Attributes["prefix"])
		}
		acct, err := api.NewClient(testServer.URL, secret).Account(context.Background())
		if err != nil {
			return fmt.Errorf("the key's secret does not authenticate: %w", err)
		}
		if acct.Name != "demo" {
			return fmt.Errorf("the key acts for %q, want demo", acct.Name)
		}
		return nil
	}
}

// checkRevoked checks through the API that every recorded key is revoked.
func (ks *keySet) checkRevoked() resource.TestCheckFunc {
	return func(*terraform.State) error {
		ks.mu.Lock()
		defer ks.mu.Unlock()
		if len(ks.ids) == 0 {
			return fmt.Errorf("no key was recorded")
		}
		for _, id := range ks.ids {
			k, err := testClient.GetKey(context.Background(), id)
			if err == nil && k.RevokedAt == nil {
				return fmt.Errorf("key %s is not revoked", id)
			}
			if err != nil && !isNotFound(err) {
				return err
			}
		}
		return nil
	}
}

func TestAccAPIKey(t *testing.T) {
	const addr = "algos_api_key.k"
	var keys keySet
	body := `  name       = "tf-key"
  algorithms = ["algo://demo/hello/*", "algo://other/*"]
  data       = "read"
  expires_at = "2099-01-02T03:04:05+01:00"`
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: providerFactories,
		CheckDestroy:             keys.checkRevoked(),
		Steps: []resource.TestStep{
			{
				Config: keyConfig(body),
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestMatchResourceAttr(addr, "id", regexp.MustCompile(`^key_`)),
					resource.TestCheckResourceAttr(addr, "owner", "demo"),
					resource.TestCheckResourceAttr(addr, "manage", "false"),
					resource.TestCheckResourceAttr(addr, "algorithms.#", "2"),
					resource.TestCheckResourceAttr(addr, "expires_at", "2099-01-02T03:04:05+01:00"),
					keys.checkWorks(addr),
				),
			},
			{Config: keyConfig(body), PlanOnly: true},
			{
				ResourceName:            addr,
				ImportState:             true,
				ImportStateVerify:       true,
				ImportStateVerifyIgnore: []string{"secret", "expires_at"},
				ImportStateCheck: func(s []*terraform.InstanceState) error {
					if len(s) != 1 || s[0].Attributes["secret"] != "" || s[0].Attributes["expires_at"] != "2099-01-02T02:04:05Z" {
						return fmt.Errorf("imported key: secret must be null, expires_at the same instant in UTC; got %v", s[0].Attributes)
					}
					return nil
				},
			},
			{
				// The name and expiry change in place: same key, same secret.
				Config: keyConfig(`  name       = "tf-key-renamed"
  algorithms = ["algo://demo/hello/*", "algo://other/*"]
  data       = "read"
  expires_at = "2098-01-01T00:00:00Z"`),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate),
				}},
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttr(addr, "name", "tf-key-renamed"),
					resource.TestCheckResourceAttr(addr, "expires_at", "2098-01-01T00:00:00Z"),
					keys.checkWorks(addr),
					func(*terraform.State) error {
						k, err := testClient.GetKey(context.Background(), keys.ids[0])
						if err != nil || k.Name != "tf-key-renamed" || k.ExpiresAt == nil || k.ExpiresAt.Year() != 2098 || k.RevokedAt != nil {
							return fmt.Errorf("key after update: %+v, %v", k, err)
						}
						return nil
					},
				),
			},
			{
				// The scopes cannot change: a change revokes the key and creates another.
				Config: keyConfig(`  name = "tf-key-2"
  manage = true`),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(addr, plancheck.ResourceActionDestroyBeforeCreate),
				}},
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttr(addr, "algorithms.0", "algo://*"),
					resource.TestCheckResourceAttr(addr, "data", "none"),
					resource.TestCheckResourceAttr(addr, "manage", "true"),
					keys.checkWorks(addr),
					func(*terraform.State) error { // the first key is revoked by now
						k, err := testClient.GetKey(context.Background(), keys.ids[0])
						if err != nil || k.RevokedAt == nil {
							return fmt.Errorf("the replaced key %s: %+v, %v: want revoked", keys.ids[0], k, err)
						}
						return nil
					},
				),
			},
		},
	})
}

func TestAccAPIKey_drift(t *testing.T) {
	const addr = "algos_api_key.k"
	var keys keySet
	cfg := keyConfig(`  name = "tf-key-drift"`)
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: providerFactories,
		CheckDestroy:             keys.checkRevoked(),
		Steps: []resource.TestStep{
			{Config: cfg, Check: keys.checkWorks(addr)},
			{
				PreConfig: func() {
					if err := testClient.RevokeKey(context.Background(), keys.ids[0]); err != nil {
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
			{Config: cfg, Check: keys.checkWorks(addr)},
		},
	})
}

func TestAccAPIKey_badInput(t *testing.T) {
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: providerFactories,
		Steps: []resource.TestStep{
			{Config: keyConfig(`  algorithms = ["algo://demo"]`), PlanOnly: true, ExpectError: regexp.MustCompile(`algo://owner/name/\*`)},
			{Config: keyConfig(`  expires_at = "tomorrow"`), PlanOnly: true, ExpectError: regexp.MustCompile(`Invalid time`)},
			{Config: keyConfig(`  data = "all"`), PlanOnly: true, ExpectError: regexp.MustCompile(`Invalid Attribute Value Match`)},
		},
	})
}
