# The endpoint and key may also come from ALGOS_ENDPOINT and ALGOS_API_KEY (`make dev` prints
# both); keep keys out of .tf files.
provider "algos" {
  endpoint = "http://127.0.0.1:8080"
  api_key  = var.algos_api_key
}

variable "algos_api_key" {
  description = "An API key with the manage scope (an administrator's for node pools)."
  type        = string
  sensitive   = true
}
