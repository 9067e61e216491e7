package aws_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/algos-dev/algos/clouds"
	"github.com/algos-dev/algos/clouds/aws"
	"github.com/algos-dev/algos/clouds/cloudtest"
)

// TestRealAccount runs the conformance suites against a real AWS account with the default
// credential chain. It is opt-in (it launches real instances, which costs money):
//
//	ALGOS_CLOUDTEST_AWS=1 AWS_REGION=us-east-1 \
//	ALGOS_CLOUDTEST_AWS_SUBNETS=us-east-1a=subnet-…,us-east-1b=subnet-… \
//	ALGOS_CLOUDTEST_AWS_IMAGE=ami-… go test -run TestRealAccount -timeout 60m ./clouds/aws/
func TestRealAccount(t *testing.T) {
	if os.Getenv("ALGOS_CLOUDTEST_AWS") != "1" {
		t.Skip("opt-in: set ALGOS_CLOUDTEST_AWS=1 (and AWS_REGION, ALGOS_CLOUDTEST_AWS_SUBNETS, ALGOS_CLOUDTEST_AWS_IMAGE) to run against a real account")
	}
	subnets := map[string]string{}
	for _, kv := range strings.Split(os.Getenv("ALGOS_CLOUDTEST_AWS_SUBNETS"), ",") {
		if z, s, ok := strings.Cut(kv, "="); ok {
			subnets[z] = s
		}
	}
	cfg := aws.Config{Region: os.Getenv("AWS_REGION"), Subnets: subnets, Image: os.Getenv("ALGOS_CLOUDTEST_AWS_IMAGE")}
	newDriver := func(t *testing.T) *aws.Driver {
		d, err := aws.New(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	spec := clouds.InstanceSpec{InstanceType: "t3.micro", UserData: "#!/bin/sh\ntrue\n", Tags: map[string]string{"algos-cloudtest": "1"}}
	t.Run("Compute", func(t *testing.T) {
		cloudtest.TestCompute(t, func(t *testing.T) clouds.Compute { return newDriver(t) }, spec)
	})
	t.Run("Groups", func(t *testing.T) {
		cloudtest.TestGroups(t, func(t *testing.T) clouds.Groups { return newDriver(t) }, spec)
	})
}
