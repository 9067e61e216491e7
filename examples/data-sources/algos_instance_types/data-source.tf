# Instance types of AWS in us-east-1 with at least one H100.
data "algos_instance_types" "h100" {
  cloud     = "aws"
  region    = "us-east-1"
  gpu_model = "H100"
  min_gpus  = 1
}

output "h100_types" {
  value = [for t in data.algos_instance_types.h100.instance_types : "${t.name}: ${t.gpu_count} x ${t.gpu_model}, ${t.price_per_hour}/h"]
}
