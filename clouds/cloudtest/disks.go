package cloudtest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"testing"

	"github.com/algos-dev/algos/clouds"
)

// TestDisks runs the Disks conformance cases. newDriver returns a driver for one case. spec
// is a creatable disk with Zone set; the suite sets Name and adds a TagRun tag. instance
// returns the ID of a new running instance in spec.Zone (the harness deletes it in
// t.Cleanup); a case may call it twice.
//
// The contract checked, beyond the interface's doc comments: a new disk is creating or
// available and becomes available; attached, it becomes in-use with InstanceID set;
// detached, available again with InstanceID empty. Attaching a disk to the instance it is
// attached to is a no-op; attaching it to another instance is ErrInvalid and changes
// nothing. Deleting an attached disk is ErrInvalid and leaves it attached (clouds.Disks:
// "Errors: ErrInvalid while attached"): callers detach first. A deleted disk becomes
// ErrNotFound (or is listed as deleting for a while).
func TestDisks(t *testing.T, newDriver func(t *testing.T) clouds.Disks, spec clouds.DiskSpec, instance func(t *testing.T) string) {
	newSpec := func() clouds.DiskSpec {
		s := spec
		s.Name = unique("cloudtest")
		s.Tags = maps.Clone(spec.Tags)
		if s.Tags == nil {
			s.Tags = map[string]string{}
		}
		s.Tags[TagRun] = s.Name
		return s
	}
	create := func(t *testing.T, d clouds.Disks, s clouds.DiskSpec) clouds.Disk {
		t.Helper()
		disk, err := d.CreateDisk(t.Context(), s)
		if err != nil {
			t.Fatalf("CreateDisk: %v", err)
		}
		t.Cleanup(func() {
			ctx := context.Background()
			if got, err := d.GetDisk(ctx, disk.ID); err == nil && got.InstanceID != "" {
				_ = d.DetachDisk(ctx, disk.ID, got.InstanceID)
				eventually(t, "cleanup: disk detached", func() (bool, error) {
					got, err := d.GetDisk(ctx, disk.ID)
					return errors.Is(err, clouds.ErrNotFound) || (err == nil && got.State == clouds.DiskAvailable), err
				})
			}
			if err := d.DeleteDisk(ctx, disk.ID); err != nil {
				t.Errorf("cleanup: DeleteDisk(%s): %v", disk.ID, err)
			}
		})
		return disk
	}
	// waitState waits until the disk is in state want attached to instanceID ("" for
	// none), and returns it.
	waitState := func(t *testing.T, d clouds.Disks, id string, want clouds.DiskState, instanceID string) clouds.Disk {
		t.Helper()
		var got clouds.Disk
		eventually(t, fmt.Sprintf("disk %s %s (instance %q)", id, want, instanceID), func() (bool, error) {
			var err error
			got, err = d.GetDisk(t.Context(), id)
			if err != nil {
				return false, err
			}
			checkDiskState(t, got)
			return got.State == want && got.InstanceID == instanceID,
				fmt.Errorf("state %s, instance %q", got.State, got.InstanceID)
		})
		return got
	}
	gone := func(t *testing.T, d clouds.Disks, id string) {
		t.Helper()
		eventually(t, "deleted disk gone", func() (bool, error) {
			got, err := d.GetDisk(t.Context(), id)
			if errors.Is(err, clouds.ErrNotFound) {
				return true, nil
			}
			if err != nil {
				return false, err
			}
			return got.State == clouds.DiskDeleting, errors.New("state " + string(got.State))
		})
	}

	t.Run("CreateGetDelete", func(t *testing.T) {
		t.Parallel()
		d, ctx := newDriver(t), t.Context()
		s := newSpec()
		disk := create(t, d, s)
		check := func(what string, got clouds.Disk) {
			t.Helper()
			if got.ID == "" || got.Name != s.Name || got.SizeGiB != s.SizeGiB || got.Zone != s.Zone {
				t.Errorf("%s = {ID %q Name %q SizeGiB %d Zone %q}, want {non-empty %q %d %q}",
					what, got.ID, got.Name, got.SizeGiB, got.Zone, s.Name, s.SizeGiB, s.Zone)
			}
			if s.Type != "" && got.Type != s.Type {
				t.Errorf("%s: Type = %q, want %q", what, got.Type, s.Type)
			}
			if !hasTags(got.Tags, s.Tags) {
				t.Errorf("%s: Tags = %v, want at least %v", what, got.Tags, s.Tags)
			}
			if got.InstanceID != "" {
				t.Errorf("%s: InstanceID = %q, want none", what, got.InstanceID)
			}
		}
		check("CreateDisk", disk)
		if disk.State != clouds.DiskCreating && disk.State != clouds.DiskAvailable {
			t.Errorf("CreateDisk: State = %q, want creating or available", disk.State)
		}
		check("GetDisk", waitState(t, d, disk.ID, clouds.DiskAvailable, ""))

		if err := d.DeleteDisk(ctx, disk.ID); err != nil {
			t.Fatalf("DeleteDisk: %v", err)
		}
		gone(t, d, disk.ID)
		if err := d.DeleteDisk(ctx, disk.ID); err != nil {
			t.Errorf("second DeleteDisk = %v, want nil (idempotent)", err)
		}
	})

	t.Run("AttachDetach", func(t *testing.T) {
		t.Parallel()
		d, ctx := newDriver(t), t.Context()
		disk := create(t, d, newSpec())
		a := instance(t)
		waitState(t, d, disk.ID, clouds.DiskAvailable, "")

		if err := d.AttachDisk(ctx, disk.ID, a); err != nil {
			t.Fatalf("AttachDisk: %v", err)
		}
		waitState(t, d, disk.ID, clouds.DiskInUse, a)
		if err := d.AttachDisk(ctx, disk.ID, a); err != nil {
			t.Errorf("AttachDisk to the same instance again = %v, want nil (idempotent)", err)
		}

		b := instance(t)
		if err := d.AttachDisk(ctx, disk.ID, b); !errors.Is(err, clouds.ErrInvalid) {
			t.Errorf("AttachDisk to a second instance while attached = %v, want ErrInvalid", err)
		}
		if err := d.DeleteDisk(ctx, disk.ID); !errors.Is(err, clouds.ErrInvalid) {
			t.Errorf("DeleteDisk while attached = %v, want ErrInvalid", err)
		}
		waitState(t, d, disk.ID, clouds.DiskInUse, a)

		if err := d.DetachDisk(ctx, disk.ID, a); err != nil {
			t.Fatalf("DetachDisk: %v", err)
		}
		waitState(t, d, disk.ID, clouds.DiskAvailable, "")
		if err := d.DetachDisk(ctx, disk.ID, a); err != nil {
			t.Errorf("DetachDisk of a detached disk = %v, want nil (idempotent)", err)
		}

		// Detached, it moves to the other instance.
		if err := d.AttachDisk(ctx, disk.ID, b); err != nil {
			t.Fatalf("AttachDisk to the second instance after detach: %v", err)
		}
		waitState(t, d, disk.ID, clouds.DiskInUse, b)
		if err := d.DetachDisk(ctx, disk.ID, b); err != nil {
			t.Fatalf("DetachDisk(second instance): %v", err)
		}
		waitState(t, d, disk.ID, clouds.DiskAvailable, "")
		if err := d.DeleteDisk(ctx, disk.ID); err != nil {
			t.Fatalf("DeleteDisk after detach: %v", err)
		}
		gone(t, d, disk.ID)
	})

	t.Run("NotFound", func(t *testing.T) {
		t.Parallel()
		d, ctx := newDriver(t), t.Context()
		if _, err := d.GetDisk(ctx, missingID); !errors.Is(err, clouds.ErrNotFound) {
			t.Errorf("GetDisk(missing) = %v, want ErrNotFound", err)
		}
		if err := d.AttachDisk(ctx, missingID, missingID); !errors.Is(err, clouds.ErrNotFound) {
			t.Errorf("AttachDisk(missing disk) = %v, want ErrNotFound", err)
		}
		if err := d.DetachDisk(ctx, missingID, missingID); err != nil {
			t.Errorf("DetachDisk(missing) = %v, want nil (idempotent)", err)
		}
		if err := d.DeleteDisk(ctx, missingID); err != nil {
			t.Errorf("DeleteDisk(missing) = %v, want nil (idempotent)", err)
		}
		disk := create(t, d, newSpec())
		waitState(t, d, disk.ID, clouds.DiskAvailable, "")
		if err := d.AttachDisk(ctx, disk.ID, missingID); !errors.Is(err, clouds.ErrNotFound) {
			t.Errorf("AttachDisk(missing instance) = %v, want ErrNotFound", err)
		}
	})

	t.Run("CanceledContext", func(t *testing.T) {
		t.Parallel()
		d := newDriver(t)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		disk, err := d.CreateDisk(ctx, newSpec())
		if err == nil {
			_ = d.DeleteDisk(context.Background(), disk.ID)
		}
		if !errors.Is(err, context.Canceled) {
			t.Errorf("CreateDisk(cancelled ctx) = %v, want an error wrapping context.Canceled", err)
		}
		if _, err := d.GetDisk(ctx, missingID); !errors.Is(err, context.Canceled) {
			t.Errorf("GetDisk(cancelled ctx) = %v, want an error wrapping context.Canceled", err)
		}
	})
}

func checkDiskState(t *testing.T, d clouds.Disk) {
	t.Helper()
	switch d.State {
	case clouds.DiskCreating, clouds.DiskAvailable, clouds.DiskInUse, clouds.DiskDeleting:
	default:
		t.Errorf("disk %s: state %q is not one of the normalized states", d.ID, d.State)
	}
}
