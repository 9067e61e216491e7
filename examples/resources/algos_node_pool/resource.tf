# A pool of the local cloud: its nodes are agent processes on the control plane's machine.
resource "algos_node_pool" "local" {
  name          = "local"
  cloud         = "local"
  instance_type = "local"
  min_size      = 1
  max_size      = 4
  desired_size  = 2
}

# A GPU pool on AWS, on spot capacity, with fallback instance types.
resource "algos_node_pool" "gpu" {
  name                    = "gpu"
  cloud                   = "aws"
  account                 = "ml-prod"
  region                  = "us-east-1"
  zones                   = ["us-east-1a", "us-east-1b"]
  instance_type           = "p5.48xlarge"
  fallback_instance_types = ["p4d.24xlarge"]
  gpu_type                = "NVIDIA H100"
  gpu_count               = 8
  spot                    = true
  min_size                = 0
  max_size                = 4

  labels = {
    team = "ml"
  }
}
