# A node pool is imported by its name.
terraform import algos_node_pool.gpu gpu
