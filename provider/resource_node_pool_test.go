package provider

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
)

func poolConfig(name, extra string) string {
	return providerConfig() + fmt.Sprintf(`
resource "algos_node_pool" "p" {
  name          = %q
  cloud         = "local"
  instance_type = "local"
  max_size      = 2
%s
}
`, name, extra)
}

// nodeSet records the node IDs a test has seen, to check that they are gone at the end.
type nodeSet struct {
	mu  sync.Mutex
	ids map[string]bool
}

// checkReady checks that the pool's node_ids are registered, ready nodes of the pool, and that
// there are size of them; it records them.
func (ns *nodeSet) checkReady(addr, pool string, size int) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		rs, ok := s.RootModule().Resources[addr]
		if !ok {
			return fmt.Errorf("%s not in the state", addr)
		}
		n, _ := strconv.Atoi(rs.Primary.Attributes["node_ids.#"])
		if n != size {
			return fmt.Errorf("%s has %d node_ids, want %d", addr, n, size)
		}
		nodes, err := testClient.ListNodes(context.Background())
		if err != nil {
			return err
		}
		ns.mu.Lock()
		defer ns.mu.Unlock()
		for i := range n {
			id := rs.Primary.Attributes["node_ids."+strconv.Itoa(i)]
			found := false
			for _, node := range nodes {
				if node.ID == id {
					found = true
					if node.Pool != pool || !node.Ready {
						return fmt.Errorf("node %s: pool %q ready %v, want pool %q ready", id, node.Pool, node.Ready, pool)
					}
				}
			}
			if !found {
				return fmt.Errorf("node %s of %s is not registered", id, addr)
			}
			if ns.ids == nil {
				ns.ids = map[string]bool{}
			}
			ns.ids[id] = true
		}
		return nil
	}
}

// checkGone checks through the API that the pools and every recorded node are gone.
func (ns *nodeSet) checkGone(pools ...string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		ctx := context.Background()
		for _, p := range pools {
			if _, err := testClient.GetPool(ctx, p); !isNotFound(err) {
				return fmt.Errorf("node pool %s: got %v, want 404", p, err)
			}
		}
		nodes, err := testClient.ListNodes(ctx)
		if err != nil {
			return err
		}
		ns.mu.Lock()
		defer ns.mu.Unlock()
		for _, n := range nodes {
			if ns.ids[n.ID] {
				return fmt.Errorf("node %s of pool %s is still registered", n.ID, n.Pool)
			}
		}
		return nil
	}
}

func TestAccNodePool(t *testing.T) {
	const addr = "algos_node_pool.p"
	var nodes nodeSet
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: providerFactories,
		CheckDestroy:             nodes.checkGone("tf-pool"),
		Steps: []resource.TestStep{
			{
				Config: poolConfig("tf-pool", `  labels = { team = "a" }
  min_isolation = "none"`),
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttr(addr, "id", "tf-pool"),
					resource.TestCheckResourceAttr(addr, "min_size", "1"),
					resource.TestCheckResourceAttr(addr, "desired_size", "1"),
					resource.TestCheckResourceAttr(addr, "size", "1"),
					resource.TestCheckResourceAttr(addr, "spot", "false"),
					resource.TestCheckResourceAttr(addr, "min_isolation", "none"),
					nodes.checkReady(addr, "tf-pool", 1),
				),
			},
			{Config: poolConfig("tf-pool", `  labels = { team = "a" }
  min_isolation = "none"`), PlanOnly: true},
			{
				ResourceName:            addr,
				ImportState:             true,
				ImportStateVerify:       true,
				ImportStateVerifyIgnore: []string{"status"},
			},
			{
				// Sizes and labels change in place; the new node starts and registers.
				Config: poolConfig("tf-pool", `  min_isolation = "none"
  desired_size = 2
  labels       = { team = "b" }`),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate),
				}},
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttr(addr, "size", "2"),
					resource.TestCheckResourceAttr(addr, "labels.team", "b"),
					nodes.checkReady(addr, "tf-pool", 2),
				),
			},
			{
				// Zones cannot change in place: the pool is replaced, its old nodes stop.
				Config: poolConfig("tf-pool", `  zones = ["local"]`),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(addr, plancheck.ResourceActionDestroyBeforeCreate),
				}},
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttr(addr, "size", "1"),
					resource.TestCheckResourceAttr(addr, "zones.0", "local"),
					nodes.checkReady(addr, "tf-pool", 1),
				),
			},
		},
	})
}

func TestAccNodePool_drift(t *testing.T) {
	const addr = "algos_node_pool.p"
	var nodes nodeSet
	cfg := poolConfig("tf-pool-drift", "")
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: providerFactories,
		CheckDestroy:             nodes.checkGone("tf-pool-drift"),
		Steps: []resource.TestStep{
			{Config: cfg, Check: nodes.checkReady(addr, "tf-pool-drift", 1)},
			{
				PreConfig: func() {
					if err := testClient.DeletePool(context.Background(), "tf-pool-drift"); err != nil {
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
			{Config: cfg, Check: nodes.checkReady(addr, "tf-pool-drift", 1)},
		},
	})
}

func TestAccNodePool_badInput(t *testing.T) {
	cfg := func(cloud, extra string) string {
		return providerConfig() + fmt.Sprintf(`
resource "algos_node_pool" "p" {
  name     = "tf-pool-bad"
  cloud    = %q
  max_size = 2
%s
}
`, cloud, extra)
	}
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: providerFactories,
		CheckDestroy:             (&nodeSet{}).checkGone("tf-pool-bad"),
		Steps: []resource.TestStep{
			{Config: cfg("moon", ""), PlanOnly: true, ExpectError: regexp.MustCompile(`Invalid Attribute Value Match`)},
			{Config: cfg("local", "  min_size = 3"), PlanOnly: true, ExpectError: regexp.MustCompile(`min_size is above max_size`)},
			{Config: cfg("local", "  desired_size = 5"), PlanOnly: true, ExpectError: regexp.MustCompile(`desired_size is above max_size`)},
			{Config: cfg("local", `  min_isolation = "total"`), PlanOnly: true, ExpectError: regexp.MustCompile(`Invalid Attribute Value Match`)},
			// A cloud the control plane has not configured is the API's error, at apply.
			{Config: cfg("openstack", ""), ExpectError: regexp.MustCompile(`Cannot create node pool tf-pool-bad`)},
		},
	})
}

// TestAccNodePool_notReady: a pool whose nodes cannot start (the local cloud has no spot
// capacity) fails the apply once the wait is over, saying why, and is kept (tainted) so that
// destroy removes it.
func TestAccNodePool_notReady(t *testing.T) {
	shortWait := map[string]func() (tfprotov6.ProviderServer, error){
		"algos": providerserver.NewProtocol6WithError(&Provider{version: "test", poolWait: 2 * time.Second}),
	}
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: shortWait,
		CheckDestroy:             (&nodeSet{}).checkGone("tf-pool-spot"),
		Steps: []resource.TestStep{{
			Config:      poolConfig("tf-pool-spot", "  spot = true"),
			ExpectError: regexp.MustCompile(`(?s)Node pool tf-pool-spot did not become ready.*0 of 1 node\(s\) ready.*no spot capacity`),
		}},
	})
}
