# An algorithm is imported by owner/name. The source directory is not known to the control
# plane: set `source` in the configuration; the next plan publishes only if it differs from the
# latest version.
terraform import algos_algorithm.sentiment demo/sentiment
