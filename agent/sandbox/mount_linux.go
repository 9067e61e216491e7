package sandbox

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Kinds of viewMount.
const (
	mountRO      = "ro"      // bind, read-only, nosuid, nodev
	mountRW      = "rw"      // bind, writable, nosuid, nodev
	mountDev     = "dev"     // bind a device node, nosuid, noexec
	mountSymlink = "symlink" // a symlink to Target
	mountTmpfs   = "tmpfs"   // a tmpfs of Size bytes with Mode
	mountProc    = "proc"    // a procfs of the new PID namespace
)

// viewMount is one step of building the namespaces driver's view. Path is where it appears
// inside the sandbox (and, for binds, the host path it shows).
type viewMount struct {
	Path   string `json:"path"`
	Kind   string `json:"kind"`
	Target string `json:"target,omitempty"`
	Size   int64  `json:"size,omitempty"`
	Mode   uint32 `json:"mode,omitempty"`
}

func depth(p string) int {
	if p == "/" {
		return 0
	}
	return strings.Count(filepath.Clean(p), "/")
}

// within reports whether p is base or beneath it.
func within(p, base string) bool {
	return p == base || base == "/" || strings.HasPrefix(p, base+"/")
}

// planView orders the mounts parents first and drops binds another read-only bind already
// shows. A path named twice keeps its strongest kind (rw over ro).
func planView(ms []viewMount) []viewMount {
	rank := map[string]int{mountRO: 1, mountSymlink: 2, mountDev: 3, mountRW: 4, mountProc: 5, mountTmpfs: 5}
	byPath := map[string]viewMount{}
	var order []string
	for _, m := range ms {
		m.Path = filepath.Clean(m.Path)
		old, seen := byPath[m.Path]
		if !seen {
			order = append(order, m.Path)
		}
		if !seen || rank[m.Kind] > rank[old.Kind] {
			byPath[m.Path] = m
		}
	}
	out := make([]viewMount, 0, len(order))
	for _, p := range order {
		out = append(out, byPath[p])
	}
	slices.SortStableFunc(out, func(a, b viewMount) int { return depth(a.Path) - depth(b.Path) })
	kept := out[:0]
	for _, m := range out {
		covered := false
		if m.Kind == mountRO {
			// Shown by a shallower read-only bind, and not under something that hides it.
			for i := len(kept) - 1; i >= 0; i-- {
				k := kept[i]
				if k.Path != m.Path && within(m.Path, k.Path) {
					covered = k.Kind == mountRO
					break
				}
			}
		}
		if !covered {
			kept = append(kept, m)
		}
	}
	return kept
}

// setupView builds the sandbox's file system in a private mount namespace and makes it the
// root: a read-only tmpfs holding the planned binds, a fresh /proc, /dev and /tmp.
func setupView(plan []viewMount) error {
	// Nothing we mount may propagate to the host.
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make mounts private: %w", err)
	}
	// Open every source before the new root may cover it (it is mounted on /tmp, where the
	// sources may live).
	fds := map[string]int{}
	defer func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
	}()
	for _, m := range plan {
		switch m.Kind {
		case mountRO, mountRW, mountDev:
			fd, err := unix.Open(m.Path, unix.O_PATH|unix.O_CLOEXEC, 0)
			if err != nil {
				if errors.Is(err, unix.ENOENT) && m.Kind == mountRO {
					continue // a read-only path that does not exist is simply not there
				}
				return fmt.Errorf("open %s for the sandbox's view: %w", m.Path, err)
			}
			fds[m.Path] = fd
		}
	}
	const root = "/tmp"
	if err := unix.Mount("tmpfs", root, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=0755,size=1m"); err != nil {
		return fmt.Errorf("mount the sandbox's root: %w", err)
	}
	for _, m := range plan {
		target := filepath.Join(root, m.Path)
		var err error
		switch m.Kind {
		case mountSymlink:
			if err = os.MkdirAll(filepath.Dir(target), 0o755); err == nil {
				err = os.Symlink(m.Target, target)
			}
		case mountTmpfs:
			if err = os.MkdirAll(target, 0o755); err == nil {
				err = unix.Mount("tmpfs", target, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV,
					fmt.Sprintf("mode=%o,size=%d", m.Mode, m.Size))
			}
		case mountProc:
			if err = os.MkdirAll(target, 0o555); err == nil {
				err = unix.Mount("proc", target, "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "")
			}
		case mountRO, mountRW, mountDev:
			fd, ok := fds[m.Path]
			if !ok {
				continue
			}
			err = bindFD(fd, target, m.Kind)
		default:
			err = fmt.Errorf("unknown kind %q", m.Kind)
		}
		if err != nil {
			return fmt.Errorf("sandbox view: %s %s: %w", m.Kind, m.Path, err)
		}
	}
	if err := enterRoot(root); err != nil {
		return err
	}
	if err := unix.Mount("", "/", "", unix.MS_REMOUNT|unix.MS_BIND|unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV, ""); err != nil {
		return fmt.Errorf("make the sandbox's root read-only: %w", err)
	}
	return nil
}

// bindFD bind-mounts the file or directory open as fd (O_PATH) on target, creating the
// mount point, and applies kind's flags to the whole mounted tree.
func bindFD(fd int, target, kind string) error {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		if err := os.MkdirAll(target, 0o755); err != nil {
			return err
		}
	} else {
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return err
		}
		f, err := os.OpenFile(target, os.O_CREATE|os.O_RDONLY, 0o644)
		if err != nil && !errors.Is(err, os.ErrExist) {
			return err
		}
		if f != nil {
			f.Close()
		}
	}
	src := "/proc/self/fd/" + strconv.Itoa(fd)
	if err := unix.Mount(src, target, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return err
	}
	var attr uint64
	var flags uintptr
	switch kind {
	case mountRO:
		attr, flags = unix.MOUNT_ATTR_RDONLY|unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV, unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV
	case mountRW:
		attr, flags = unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV, unix.MS_NOSUID|unix.MS_NODEV
	case mountDev:
		attr, flags = unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NOEXEC, unix.MS_NOSUID|unix.MS_NOEXEC
	}
	err := unix.MountSetattr(-1, target, unix.AT_RECURSIVE, &unix.MountAttr{Attr_set: attr})
	if errors.Is(err, unix.ENOSYS) {
		// Before Linux 5.12: only the top mount gets the flags.
		err = unix.Mount("", target, "", unix.MS_REMOUNT|unix.MS_BIND|flags, "")
	}
	return err
}

// enterRoot makes root the root directory and detaches the old one.
func enterRoot(root string) error {
	if err := os.Chdir(root); err != nil {
		return err
	}
	if err := unix.PivotRoot(".", "."); err == nil {
		if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
			return fmt.Errorf("detach the host's root: %w", err)
		}
	} else if errors.Is(err, unix.EINVAL) {
		// The host's root is the initramfs, which cannot be pivoted away: move and chroot.
		if err := unix.Mount(".", "/", "", unix.MS_MOVE, ""); err != nil {
			return fmt.Errorf("move the sandbox's root: %w", err)
		}
		if err := unix.Chroot("."); err != nil {
			return fmt.Errorf("chroot: %w", err)
		}
	} else {
		return fmt.Errorf("pivot_root: %w", err)
	}
	return os.Chdir("/")
}
