package gcp_test

import (
	"context"
	"os"
	"testing"

	"github.com/algos-dev/algos/clouds"
	"github.com/algos-dev/algos/clouds/cloudtest"
	"github.com/algos-dev/algos/clouds/gcp"
)

// TestRealAccount runs the conformance suites against a real GCP project with Application
// Default Credentials. It is opt-in (it launches real VMs, which costs money):
//
//	ALGOS_CLOUDTEST_GCP=1 GOOGLE_CLOUD_PROJECT=my-project ALGOS_CLOUDTEST_GCP_REGION=us-central1 \
//	go test -run TestRealAccount -timeout 60m ./clouds/gcp/
func TestRealAccount(t *testing.T) {
	if os.Getenv("ALGOS_CLOUDTEST_GCP") != "1" {
		t.Skip("opt-in: set ALGOS_CLOUDTEST_GCP=1 and GOOGLE_CLOUD_PROJECT (ALGOS_CLOUDTEST_GCP_REGION, default us-central1) to run against a real project")
	}
	region := os.Getenv("ALGOS_CLOUDTEST_GCP_REGION")
	if region == "" {
		region = "us-central1"
	}
	cfg := gcp.Config{Project: os.Getenv("GOOGLE_CLOUD_PROJECT"), Region: region}
	newDriver := func(t *testing.T) *gcp.Driver {
		d, err := gcp.New(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	spec := clouds.InstanceSpec{InstanceType: "e2-small", UserData: "#!/bin/sh\ntrue\n", Tags: map[string]string{"algos-cloudtest": "1"}}
	t.Run("Compute", func(t *testing.T) {
		cloudtest.TestCompute(t, func(t *testing.T) clouds.Compute { return newDriver(t) }, spec)
	})
	t.Run("Groups", func(t *testing.T) {
		cloudtest.TestGroups(t, func(t *testing.T) clouds.Groups { return newDriver(t) }, spec)
	})
}
