//go:build cgo

// Command gpuhog is an algos worker that holds GPU memory, for `algos gpu-check`: it allocates
// -load-mib MiB on the first GPU CUDA shows it (CUDA_VISIBLE_DEVICES is honoured by the
// driver) before it reports ready, and serves the worker protocol through sdk/go/algo. A call
// may ask for more: {"alloc_mib": N, "hold_s": S} allocates N more MiB, then waits S seconds
// before it answers with what it holds ({"allocated_mib", "device", "cuda_visible_devices",
// "pid"}). Memory is held until the process exits (on stdin EOF, as every worker).
//
// It needs no CUDA toolkit to build: it loads the driver's libcuda.so.1 with dlopen. Without
// the driver it exits 1 with a message that says so.
package main

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdio.h>
#include <stddef.h>

typedef int CUresult;
typedef int CUdevice;
typedef void *CUcontext;
typedef unsigned long long CUdeviceptr;

static CUresult (*p_cuInit)(unsigned int);
static CUresult (*p_cuDeviceGet)(CUdevice *, int);
static CUresult (*p_cuDeviceGetName)(char *, int, CUdevice);
static CUresult (*p_cuCtxCreate)(CUcontext *, unsigned int, CUdevice);
static CUresult (*p_cuDevicePrimaryCtxRetain)(CUcontext *, CUdevice);
static CUresult (*p_cuCtxSetCurrent)(CUcontext);
static CUresult (*p_cuMemAlloc)(CUdeviceptr *, size_t);
static CUresult (*p_cuGetErrorString)(CUresult, const char **);
static CUcontext hog_ctx;

// hog_open loads libcuda.so.1 and its symbols; it returns 0, or -1 with err filled.
static int hog_open(char *err, int n) {
	void *lib = dlopen("libcuda.so.1", RTLD_NOW | RTLD_GLOBAL);
	if (!lib) {
		snprintf(err, n, "the NVIDIA driver's libcuda.so.1 cannot be loaded: %s", dlerror());
		return -1;
	}
	p_cuInit = dlsym(lib, "cuInit");
	p_cuDeviceGet = dlsym(lib, "cuDeviceGet");
	p_cuDeviceGetName = dlsym(lib, "cuDeviceGetName");
	p_cuCtxCreate = dlsym(lib, "cuCtxCreate_v2");
	p_cuDevicePrimaryCtxRetain = dlsym(lib, "cuDevicePrimaryCtxRetain");
	p_cuCtxSetCurrent = dlsym(lib, "cuCtxSetCurrent");
	p_cuMemAlloc = dlsym(lib, "cuMemAlloc_v2");
	p_cuGetErrorString = dlsym(lib, "cuGetErrorString");
	if (!p_cuInit || !p_cuDeviceGet || !p_cuDeviceGetName || !p_cuCtxSetCurrent || !p_cuMemAlloc ||
	    (!p_cuCtxCreate && !p_cuDevicePrimaryCtxRetain)) {
		snprintf(err, n, "libcuda.so.1 lacks a driver API function gpuhog needs");
		return -1;
	}
	return 0;
}

// hog_init initialises CUDA and creates a context on device 0 (the first visible); step names
// the call that failed.
static CUresult hog_init(char *name, int n, const char **step) {
	CUdevice dev;
	CUresult r;
	*step = "cuInit";
	if ((r = p_cuInit(0)) != 0) return r;
	*step = "cuDeviceGet";
	if ((r = p_cuDeviceGet(&dev, 0)) != 0) return r;
	*step = "cuDeviceGetName";
	if ((r = p_cuDeviceGetName(name, n, dev)) != 0) return r;
	if (p_cuCtxCreate) {
		*step = "cuCtxCreate_v2";
		return p_cuCtxCreate(&hog_ctx, 0, dev);
	}
	*step = "cuDevicePrimaryCtxRetain";
	return p_cuDevicePrimaryCtxRetain(&hog_ctx, dev);
}

// hog_alloc allocates mib MiB of device memory in the context, from any thread.
static CUresult hog_alloc(size_t mib) {
	CUdeviceptr p;
	CUresult r = p_cuCtxSetCurrent(hog_ctx);
	if (r != 0) return r;
	return p_cuMemAlloc(&p, mib << 20);
}

static const char *hog_error(CUresult r) {
	const char *s = NULL;
	if (p_cuGetErrorString) p_cuGetErrorString(r, &s);
	return s ? s : "unknown CUDA error";
}
*/
import "C"

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"sync"
	"time"
	"unsafe"

	"github.com/algos-dev/algos/sdk/go/algo"
)

// hog is the GPU memory this process holds.
type hog struct {
	mu        sync.Mutex
	device    string
	allocated int
}

func (h *hog) init() error {
	msg := make([]byte, 512)
	if C.hog_open((*C.char)(unsafe.Pointer(&msg[0])), C.int(len(msg))) != 0 {
		return errors.New("no GPU: " + C.GoString((*C.char)(unsafe.Pointer(&msg[0]))))
	}
	name := make([]byte, 256)
	var step *C.char
	if r := C.hog_init((*C.char)(unsafe.Pointer(&name[0])), C.int(len(name)), &step); r != 0 {
		return fmt.Errorf("no usable GPU: %s: %s (CUDA error %d)", C.GoString(step), C.GoString(C.hog_error(r)), int(r))
	}
	h.device = C.GoString((*C.char)(unsafe.Pointer(&name[0])))
	return nil
}

func (h *hog) alloc(mib int) error {
	if mib <= 0 {
		return nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if r := C.hog_alloc(C.size_t(mib)); r != 0 {
		return fmt.Errorf("cuMemAlloc of %d MiB: %s (CUDA error %d)", mib, C.GoString(C.hog_error(r)), int(r))
	}
	h.allocated += mib
	return nil
}

func main() {
	loadMiB := flag.Int("load-mib", 0, "MiB to allocate before reporting ready")
	flag.Parse()
	h := &hog{}
	algo.ServeWithLoad(func() error {
		if err := h.init(); err != nil {
			return err
		}
		if err := h.alloc(*loadMiB); err != nil {
			return err
		}
		fmt.Printf("gpuhog: pid %d holds %d MiB on %s (CUDA_VISIBLE_DEVICES=%s)\n", os.Getpid(), *loadMiB, h.device, os.Getenv("CUDA_VISIBLE_DEVICES"))
		return nil
	}, func(input any) (any, error) {
		req, _ := input.(map[string]any)
		mib, _ := req["alloc_mib"].(float64)
		hold, _ := req["hold_s"].(float64)
		if err := h.alloc(int(mib)); err != nil {
			return nil, err
		}
		if mib > 0 {
			fmt.Printf("gpuhog: allocated %d MiB more; holding for %gs\n", int(mib), hold)
		}
		time.Sleep(time.Duration(hold * float64(time.Second)))
		h.mu.Lock()
		defer h.mu.Unlock()
		return map[string]any{"allocated_mib": h.allocated, "device": h.device,
			"cuda_visible_devices": os.Getenv("CUDA_VISIBLE_DEVICES"), "pid": os.Getpid()}, nil
	})
}
