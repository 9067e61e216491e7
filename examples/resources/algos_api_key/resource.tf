# A key for a service that calls the sentiment algorithm and reads data.
resource "algos_api_key" "service" {
  name       = "sentiment-service"
  algorithms = ["algo://demo/sentiment/*"]
  data       = "read"
  expires_at = "2030-01-01T00:00:00Z"
}

# A key for CI that publishes algorithms of the account.
resource "algos_api_key" "ci" {
  name   = "ci"
  manage = true
}

output "service_key" {
  value     = algos_api_key.service.secret
  sensitive = true
}
