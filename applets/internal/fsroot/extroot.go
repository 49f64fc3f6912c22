package fsroot

import (
	"os"
	"time"

	"golang.org/x/sys/unix"

	"toybox-go/applets/internal/mnt"
	"toybox-go/applets/printf"
)

// Extroot carries out OpenWrt's extroot (fstools' mount_extroot + `block
// extroot`): an enabled `config mount` in fstab with target /overlay puts the
// overlay's upper layer on external storage, one with target / makes the
// external file system the whole root (old root on /rom). fstab is read from
// PREFIX/upper/etc/config/fstab (the data volume's saved config, when prefix is
// where it is mounted) else from /etc/config/fstab. It reports whether the
// root was switched; not configured is (false, nil).
//
// Not done (unlike block extroot): the /etc/.extroot-uuid check that ties an
// extroot to one firmware, and loading kernel modules from the overlay.
func (s *System) Extroot(prefix string) (bool, error) {
	var secs []Section
	read := false
	var candidates []string
	if prefix != "" {
		candidates = append(candidates, s.Path(prefix+"/upper/etc/config/fstab"))
	}
	candidates = append(candidates, s.Path("/etc/config/fstab"))
	for _, p := range candidates {
		f, err := os.Open(p)
		if err != nil {
			continue
		}
		var errs []error
		secs, errs = ParseUCI(f, p)
		f.Close()
		for _, e := range errs {
			s.logf("%v", e)
		}
		read = true
		break
	}
	if !read {
		return false, nil
	}
	m, ok := FindExtroot(secs)
	if !ok {
		return false, nil
	}
	s.logf("extroot: %s on %s", m.Device, m.Target)
	deadline := time.Now().Add(time.Duration(m.DelayRoot) * time.Second)
	var v *Volume
	for {
		var err error
		if v, err = s.FindDevice(m.Device); err != nil {
			return false, printf.Errorf("extroot %s: %w", m.Device, err)
		}
		if v != nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if v == nil {
		return false, printf.Errorf("extroot: no device %s (delay_root %d s)", m.Device, m.DelayRoot)
	}
	fstype := m.FSType
	if fstype == "" {
		fstype = v.Info.Type.MountType()
	}
	if fstype == "" {
		return false, printf.Errorf("extroot: %s holds %s, no file system to mount", v.Device, v.Type())
	}
	sub := "/tmp/extroot/overlay"
	if m.Target == "/" {
		sub = "/tmp/extroot/mnt"
	}
	dir := s.Path(sub)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return false, err
	}
	if err := mnt.Mount(v.Device, dir, fstype, m.Options, unix.MS_NOATIME); err != nil {
		return false, printf.Errorf("extroot: mounting %s (%s) on %s: %w", v.Device, fstype, dir, err)
	}
	undo := func() { _ = unix.Unmount(dir, unix.MNT_DETACH) }
	if m.Target == "/overlay" {
		overlay := s.Path("/overlay")
		if err := mnt.Move(dir, overlay); err != nil {
			undo()
			return false, printf.Errorf("extroot: moving %s to /overlay: %w", dir, err)
		}
		if err := s.FOPivot("/overlay", "/rom"); err != nil {
			_ = unix.Unmount(overlay, unix.MNT_DETACH)
			return false, err
		}
		return true, nil
	}
	for _, d := range []string{"proc", "sys", "dev", "tmp", "rom", "overlay"} {
		_ = os.MkdirAll(dir+"/"+d, 0o755)
	}
	if err := mnt.Move(dir, s.Path("/mnt")); err != nil {
		undo()
		return false, printf.Errorf("extroot: moving %s to /mnt: %w", dir, err)
	}
	if err := s.pivotMnt("/rom"); err != nil {
		return false, err
	}
	return true, nil
}
