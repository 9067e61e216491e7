# Publishes ./algorithms/sentiment; editing a file there and applying publishes the next version.
resource "algos_algorithm" "sentiment" {
  name        = "sentiment"
  description = "Scores the sentiment of a text"
  runtime     = "python"
  entrypoint  = ["main.py"]
  source      = "${path.module}/algorithms/sentiment"
  visibility  = "private"

  version_bump = "patch"

  resources = {
    cpu            = 2
    memory_mib     = 4096
    gpu_count      = 1
    gpu_memory_mib = 16384
  }

  scaling = {
    min_instances      = 1
    max_instances      = 4
    idle_timeout       = "10m"
    target_concurrency = 1
    queue_size         = 50
  }

  timeout        = 60
  node_pool      = "gpu"
  price_per_call = 0.01
}

# An exec algorithm: a command run per call.
resource "algos_algorithm" "wordcount" {
  name       = "wordcount"
  runtime    = "exec"
  entrypoint = ["./wc.sh"]
  output     = "text"
  source     = "${path.module}/algorithms/wordcount"
}

output "sentiment_version" {
  value = algos_algorithm.sentiment.version
}
