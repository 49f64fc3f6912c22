package mnt

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"toybox-go/internal/testbin"
)

func TestFlagString(t *testing.T) {
	for _, c := range []struct {
		flags uintptr
		want  string
	}{
		{0, "0"},
		{unix.MS_RDONLY, "ro"},
		{unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOATIME, "nosuid|nodev|noatime"},
		{unix.MS_BIND | unix.MS_REC, "bind|rec"},
		{unix.MS_MOVE, "move"},
		{unix.MS_RELATIME | 1<<30, "relatime|0x40000000"},
		{1 << 30, "0x40000000"},
	} {
		if got := FlagString(c.flags); got != c.want {
			t.Errorf("FlagString(%#x) = %q, want %q", c.flags, got, c.want)
		}
	}
}

// wantErrText fails unless err's text holds each of parts.
func wantErrText(t *testing.T, err error, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q does not mention %q", err, p)
		}
	}
}

// mount(2) looks the target up before it checks privileges, so a missing
// target fails with ENOENT for anyone: nothing gets mounted here.
func TestMountErrorMissingTarget(t *testing.T) {
	target := filepath.Join(t.TempDir(), "missing")
	err := Mount("src-dev", target, "tmpfs", "mode=0755", unix.MS_NOSUID|unix.MS_NODEV)
	if err == nil {
		t.Fatal("mount on a missing directory succeeded")
	}
	if !errors.Is(err, unix.ENOENT) {
		t.Errorf("Mount error %v does not wrap ENOENT", err)
	}
	wantErrText(t, err, "src-dev", target, "type tmpfs", "flags nosuid|nodev", "data mode=0755")

	err = Move(target, t.TempDir())
	if !errors.Is(err, unix.ENOENT) {
		t.Errorf("Move error %v does not wrap ENOENT", err)
	}
	wantErrText(t, err, "move mount", target)
}

// inMountNS runs fn on a locked OS thread that has entered a new mount
// namespace where nothing propagates back to the test's. The thread is never
// unlocked, so it dies with the goroutine and the namespace (with every mount
// fn made) goes with it.
func inMountNS(t *testing.T, fn func() error) {
	t.Helper()
	testbin.RequireRoot(t)
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
			done <- err
			return
		}
		if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
			done <- err
			return
		}
		done <- fn()
	}()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// devOf returns the device number of the file system holding p.
func devOf(t *testing.T, p string) uint64 {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(p, &st); err != nil {
		t.Error(err)
		return 0
	}
	return uint64(st.Dev)
}

// A tmpfs mounted on a new directory, moved elsewhere:
// the file written in it follows it, and its old place is again a plain
// directory. Then the failures: an unknown type (ENODEV) and moving a
// directory that is not a mount (EINVAL).
func TestMountAndMoveInNamespace(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	inMountNS(t, func() error {
		if err := os.Mkdir(a, 0o755); err != nil {
			return err
		}
		if err := Mount("toybox-test", a, "tmpfs", "mode=0700", unix.MS_NOSUID|unix.MS_NODEV); err != nil {
			return err
		}
		var fs unix.Statfs_t
		if err := unix.Statfs(a, &fs); err != nil {
			return err
		}
		if fs.Type != unix.TMPFS_MAGIC {
			t.Errorf("%s: file system magic %#x, want tmpfs", a, fs.Type)
		}
		if fi, err := os.Stat(a); err != nil {
			return err
		} else if fi.Mode().Perm() != 0o700 {
			t.Errorf("%s: mode %v, want 0700 from the mount data", a, fi.Mode())
		}
		if devOf(t, a) == devOf(t, dir) {
			t.Errorf("%s is not a mount after Mount", a)
		}
		if err := os.WriteFile(filepath.Join(a, "f"), []byte("x"), 0o644); err != nil {
			return err
		}
		if err := os.Mkdir(b, 0o755); err != nil {
			return err
		}
		if err := Move(a, b); err != nil {
			return err
		}
		if _, err := os.Stat(filepath.Join(b, "f")); err != nil {
			t.Errorf("after Move the file is not in %s: %v", b, err)
		}
		if _, err := os.Stat(filepath.Join(a, "f")); !os.IsNotExist(err) {
			t.Errorf("after Move %s/f: %v, want it gone", a, err)
		}
		if devOf(t, a) != devOf(t, dir) {
			t.Errorf("%s is still a mount after Move", a)
		}

		err := Mount("nodev-src", a, "toybox-no-such-fs", "", unix.MS_RDONLY)
		if !errors.Is(err, unix.ENODEV) {
			t.Errorf("mount of an unknown type: %v, want ENODEV", err)
		} else {
			wantErrText(t, err, "nodev-src", a, "type toybox-no-such-fs", "flags ro")
		}
		err = Move(a, b) // a is a plain directory now
		if !errors.Is(err, unix.EINVAL) {
			t.Errorf("moving a non-mount: %v, want EINVAL", err)
		} else {
			wantErrText(t, err, "move mount "+a+" to "+b)
		}
		return nil
	})
}
