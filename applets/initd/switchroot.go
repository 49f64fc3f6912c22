package initd

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"toybox-go/applets/internal/fsroot"
	"toybox-go/applets/internal/mnt"
	"toybox-go/applets/printf"
)

// rootWaitGrace is how long root= is waited for without rootwait: the
// kernel would give up at once, but modules loaded a moment ago may still be
// probing their disks.
const rootWaitGrace = 5 * time.Second

// switchRoot mounts root= and makes it the root, as busybox switch_root does
// after an initramfs: the kernel file systems move into it, the initramfs's
// contents are deleted (they would pin RAM for ever), and init= (default
// /sbin/init) is exec'd there. It returns only on failure, leaving the
// initramfs as it was.
func (in *Init) switchRoot(spec string) error {
	sys := in.sys()
	if d, ok := in.param("rootdelay"); ok {
		if n, err := strconv.Atoi(d); err == nil && n > 0 {
			in.Log.Infof("rootdelay: waiting %d s", n)
			time.Sleep(time.Duration(n) * time.Second)
		}
	}
	_, rootwait := in.param("rootwait")
	deadline := time.Now().Add(rootWaitGrace)
	var v *fsroot.Volume
	for waited := false; ; waited = true {
		MakeDevNodes(sys.Sys, sys.Dev, func(string, ...any) {})
		var err error
		v, err = sys.FindDevice(spec)
		if v != nil {
			if err != nil {
				return err
			}
			break
		}
		if !rootwait && time.Now().After(deadline) {
			return printf.Errorf("no device %s", spec)
		}
		if !waited {
			in.Log.Infof("waiting for root device %s", spec)
		}
		time.Sleep(100 * time.Millisecond)
	}

	flags := uintptr(unix.MS_RDONLY) // the kernel's default
	if _, rw := in.param("rw"); rw {
		flags = 0
	}
	data, _ := in.param("rootflags")
	types := in.rootTypes(v)
	if len(types) == 0 {
		return printf.Errorf("%s: no file system type (rootfstype= not given, %s not recognised)", v.Device, v.Type())
	}
	newRoot := in.path("/root")
	var err error
	for _, t := range types {
		if err = in.mountOn("/root", v.Device, t, data, flags); err == nil {
			in.Log.Infof("mounted %s (%s) on %s", v.Device, t, newRoot)
			break
		}
	}
	if err != nil {
		return err
	}
	initPath := "/sbin/init"
	if p, ok := in.param("init"); ok && p != "" {
		initPath = p
	}
	if _, err := os.Lstat(filepath.Join(newRoot, initPath)); err != nil {
		_ = unix.Unmount(newRoot, unix.MNT_DETACH)
		return printf.Errorf("%s has no %s: %w", spec, initPath, err)
	}
	for _, d := range []string{"/dev", "/proc", "/sys", "/run"} {
		from := in.path(d)
		if !fsroot.IsMountPoint(from) {
			continue
		}
		to := filepath.Join(newRoot, d)
		if err := os.MkdirAll(to, 0o755); err != nil {
			in.Log.Errorf("mkdir %s: %v", to, err)
		}
		if err := mnt.Move(from, to); err != nil {
			in.Log.Errorf("moving %s to %s: %v", from, to, err)
		}
	}
	if err := unix.Chdir(newRoot); err != nil {
		return err
	}
	// Free the initramfs before leaving it: it is RAM nobody can reach later.
	// Only our own file system is touched (the new root is another).
	if in.isInitramfs() {
		if n := fsroot.RemoveContents(in.Root); n > 0 {
			in.Log.Debugf("%d initramfs entries could not be removed", n)
		}
	}
	if err := unix.Mount(".", in.Root, "", unix.MS_MOVE, ""); err != nil {
		return printf.Errorf("moving %s to %s: %w (initramfs already emptied)", newRoot, in.Root, err)
	}
	if err := unix.Chroot("."); err != nil {
		return printf.Errorf("chroot: %w", err)
	}
	_ = unix.Chdir("/")
	in.Log.Infof("switched root to %s: exec %s", spec, initPath)
	err = in.exec(initPath, []string{initPath})
	// The initramfs is gone: nothing to go back to. PID 1 idles.
	in.Log.Errorf("exec %s on the new root: %v", initPath, err)
	if in.PID1 {
		in.idle()
	}
	return errors.New("exec failed on the new root")
}

// rootTypes is rootfstype= (a comma list) or the type read from the superblock.
func (in *Init) rootTypes(v *fsroot.Volume) []string {
	if t, ok := in.param("rootfstype"); ok && t != "" {
		return strings.Split(t, ",")
	}
	if t := v.Info.Type.MountType(); t != "" {
		return []string{t}
	}
	return nil
}
