# The algos quickstart: a local node pool of one node, the hello-python algorithm published from
# source into it, and a key that may call only that algorithm. See README.md.

terraform {
  required_providers {
    algos = {
      source = "algos-dev/algos"
    }
  }
}

variable "endpoint" {
  description = "The control plane's URL (what `make dev` prints as ALGOS_ENDPOINT)."
  type        = string
  default     = "http://127.0.0.1:8080"
}

# The API key comes from ALGOS_API_KEY (`make dev` prints it): keep keys out of .tf files.
provider "algos" {
  endpoint = var.endpoint
}

# One node of the local cloud: an agent process on this machine. Creating the pool waits until
# the agent has registered.
resource "algos_node_pool" "quickstart" {
  name          = "quickstart"
  cloud         = "local"
  instance_type = "local"
  min_size      = 1
  max_size      = 1
}

# Publishes ../algorithms/hello-python as 1.0.0. Edit hello.py and apply again: the plan shows a
# new source_hash and the apply publishes 1.1.0.
resource "algos_algorithm" "hello" {
  name        = "hello"
  description = "Greets its input"
  runtime     = "python"
  entrypoint  = ["hello.py"]
  source      = "${path.module}/../algorithms/hello-python"
  node_pool   = algos_node_pool.quickstart.name

  scaling = {
    max_instances = 2
    idle_timeout  = "5m"
  }
}

# A key that may call this algorithm and nothing else.
resource "algos_api_key" "caller" {
  name       = "quickstart"
  algorithms = ["algo://${algos_algorithm.hello.id}/*"]
}

output "url" {
  description = "The algorithm's call URL."
  value       = "${var.endpoint}/v1/algo/${algos_algorithm.hello.id}"
}

output "version" {
  description = "The version the last apply published."
  value       = algos_algorithm.hello.version
}

output "curl" {
  description = "A curl command that calls the algorithm with the new key: terraform output -raw curl | sh"
  value       = "curl -sS -H 'Authorization: Simple ${algos_api_key.caller.secret}' -H 'Content-Type: application/json' -d '\"world\"' '${var.endpoint}/v1/algo/${algos_algorithm.hello.id}'"
  sensitive   = true
}
