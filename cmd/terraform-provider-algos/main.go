// Command terraform-provider-algos is the Terraform provider of algos, served over Terraform's
// plugin protocol 6. Terraform starts it; run it with -debug to attach a debugger and pass
// TF_REATTACH_PROVIDERS to Terraform.
package main

import (
	"context"
	"flag"
	"log"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"

	"github.com/algos-dev/algos/provider"
)

// version is set by the release build (-ldflags "-X main.version=…").
var version = "dev"

func main() {
	var debug bool
	flag.BoolVar(&debug, "debug", false, "run the provider with support for debuggers like delve")
	flag.Parse()
	err := providerserver.Serve(context.Background(), provider.New(version), providerserver.ServeOpts{
		Address: "registry.terraform.io/algos-dev/algos",
		Debug:   debug,
	})
	if err != nil {
		log.Fatal(err)
	}
}
