# The version that calls to demo/sentiment/1.* run now.
data "algos_algorithm" "sentiment" {
  owner   = "demo"
  name    = "sentiment"
  version = "1.*"
}

output "sentiment_url" {
  value = "http://127.0.0.1:8080/v1/algo/demo/sentiment/${data.algos_algorithm.sentiment.resolved_version}"
}
