#!/usr/bin/env bash
# Generates the Terraform provider's docs (docs/index.md, docs/resources, docs/data-sources)
# with tfplugindocs from the provider's schema and examples/. The schema is exported with the
# local terraform CLI from a freshly built provider (no registry access needed).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export CHECKPOINT_DISABLE=1
plugin="$tmp/plugins/registry.terraform.io/algos-dev/algos/0.0.1/$(go env GOOS)_$(go env GOARCH)"
mkdir -p "$plugin"
(cd "$root" && go build -o "$plugin/terraform-provider-algos_v0.0.1" ./cmd/terraform-provider-algos)
cat > "$tmp/main.tf" <<'TF'
terraform {
  required_providers {
    algos = { source = "algos-dev/algos" }
  }
}
TF
touch "$tmp/empty.tfrc"
(cd "$tmp" && TF_CLI_CONFIG_FILE="$tmp/empty.tfrc" terraform init -input=false -backend=false -plugin-dir=./plugins >/dev/null \
  && TF_CLI_CONFIG_FILE="$tmp/empty.tfrc" terraform providers schema -json > schema.json)
# tfplugindocs looks the schema up by the provider's short name.
sed -i 's#"registry.terraform.io/algos-dev/algos"#"algos"#' "$tmp/schema.json"
cd "$root/tools"
go run github.com/hashicorp/terraform-plugin-docs/cmd/tfplugindocs generate \
  --provider-dir "$root" --provider-name algos --providers-schema "$tmp/schema.json"
