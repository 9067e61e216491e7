package openstack_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/algos-dev/algos/clouds"
	"github.com/algos-dev/algos/clouds/openstack"
	"github.com/algos-dev/algos/clouds/openstack/osfake"
)

// TestCredentialSources authenticates the ways OpenStack users keep credentials: a
// clouds.yaml entry named by Config.Cloud or by OS_CLOUD, and an openrc's OS_* variables.
// Not parallel: it sets environment variables.
func TestCredentialSources(t *testing.T) {
	fake := osfake.New(osfake.Options{})
	t.Cleanup(fake.Close)
	file := filepath.Join(t.TempDir(), "clouds.yaml")
	yaml := fmt.Sprintf(`clouds:
  fake:
    auth:
      auth_url: %s
      username: %s
      password: %s
      project_name: %s
      user_domain_name: %s
      project_domain_name: %s
    region_name: %s
`, fake.AuthURL(), osfake.Username, osfake.Password, osfake.ProjectName, osfake.DomainName, osfake.DomainName, osfake.Region)
	if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"OS_CLOUD", "OS_AUTH_URL", "OS_USERNAME", "OS_PASSWORD", "OS_PROJECT_ID", "OS_PROJECT_NAME",
		"OS_TENANT_ID", "OS_TENANT_NAME", "OS_USER_DOMAIN_NAME", "OS_PROJECT_DOMAIN_NAME", "OS_DOMAIN_NAME",
		"OS_APPLICATION_CREDENTIAL_ID", "OS_APPLICATION_CREDENTIAL_SECRET", "OS_REGION_NAME"} {
		t.Setenv(k, "")
	}
	t.Setenv("OS_CLIENT_CONFIG_FILE", file)
	works := func(what string, cfg openstack.Config) {
		t.Helper()
		d, err := openstack.New(t.Context(), cfg)
		if err != nil {
			t.Fatalf("%s: New: %v", what, err)
		}
		if _, err := d.ListInstances(t.Context(), clouds.Filter{}); err != nil {
			t.Errorf("%s: ListInstances: %v", what, err)
		}
	}
	works("Config.Cloud", openstack.Config{Cloud: "fake"})
	if _, err := openstack.New(t.Context(), openstack.Config{Cloud: "nope"}); !errors.Is(err, clouds.ErrInvalid) {
		t.Errorf("New(unknown cloud) = %v, want ErrInvalid", err)
	}
	t.Setenv("OS_CLOUD", "fake")
	works("OS_CLOUD", openstack.Config{})

	t.Setenv("OS_CLOUD", "")
	if _, err := openstack.New(t.Context(), openstack.Config{}); !errors.Is(err, clouds.ErrInvalid) {
		t.Errorf("New(no credentials anywhere) = %v, want ErrInvalid", err)
	}
	for k, v := range map[string]string{"OS_AUTH_URL": fake.AuthURL(), "OS_USERNAME": osfake.Username, "OS_PASSWORD": osfake.Password,
		"OS_PROJECT_NAME": osfake.ProjectName, "OS_USER_DOMAIN_NAME": osfake.DomainName, "OS_REGION_NAME": osfake.Region} {
		t.Setenv(k, v)
	}
	works("OS_* variables", openstack.Config{})
}
