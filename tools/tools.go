//go:build tools

// Package tools pins the development tools of the Terraform provider (tfplugindocs) in their
// own module, so that they stay out of the algos module's dependencies.
package tools

import (
	_ "github.com/hashicorp/terraform-plugin-docs/cmd/tfplugindocs"
)
