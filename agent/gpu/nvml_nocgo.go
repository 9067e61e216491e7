//go:build !cgo

package gpu

// Open is the stub of a build without cgo: go-nvml needs cgo, so such a build sees no GPU, as a
// machine without the NVIDIA driver does (NVML's Init would return ERROR_LIBRARY_NOT_FOUND).
func Open() (Driver, func(), error) {
	return None{Reason: "algos was built without cgo, which NVML needs (ERROR_LIBRARY_NOT_FOUND)"}, func() {}, nil
}
