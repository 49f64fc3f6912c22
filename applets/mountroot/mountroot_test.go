package mountroot

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"toybox-go/applets/internal/fsroot"
	"toybox-go/applets/internal/kmsg"
)

// fakeMounter is a Mounter on a temporary tree whose kernel has no overlay.
func fakeMounter(t *testing.T) (*Mounter, *bytes.Buffer, *bytes.Buffer) {
	d := t.TempDir()
	s := &fsroot.System{Root: filepath.Join(d, "root"), Sys: filepath.Join(d, "sys"), Proc: filepath.Join(d, "proc"), Dev: filepath.Join(d, "dev"), Cmdline: []string{}}
	for _, p := range []string{s.Root, s.Sys, s.Proc, s.Dev} {
		_ = os.MkdirAll(p, 0o755)
	}
	_ = os.WriteFile(filepath.Join(s.Proc, "filesystems"), []byte("nodev\ttmpfs\n\text4\n"), 0o644)
	var log, console bytes.Buffer
	m := &Mounter{System: s, Log: kmsg.NewWriter("mount_root", &log), Console: &console, Getenv: func(string) string { return "" }}
	return m, &log, &console
}

func TestRAMFallbackIsLoudAndOverlayMissingIsAnError(t *testing.T) {
	m, log, console := fakeMounter(t)
	if code := m.RAM("no volume named rootfs_data found"); code != 1 {
		t.Fatalf("RAM without overlay support: exit %d, want 1", code)
	}
	for _, out := range []string{log.String(), console.String()} {
		for _, want := range []string{"WARNING: using a RAM overlay (no volume named rootfs_data found)", "will NOT persist", "RAM overlay failed: the kernel has no overlay file system"} {
			if !bytes.Contains([]byte(out), []byte(want)) {
				t.Fatalf("%q lacks %q", out, want)
			}
		}
	}
}

func TestPreinitMarkers(t *testing.T) {
	m, _, _ := fakeMounter(t)
	if m.InPreinit() {
		t.Fatal("in preinit with no marker")
	}
	m.Getenv = func(k string) string {
		if k == "PREINIT" {
			return "1"
		}
		return ""
	}
	if !m.InPreinit() {
		t.Fatal("PREINIT=1 not seen")
	}
	m.Getenv = func(string) string { return "" }
	_ = os.MkdirAll(m.Path("/tmp"), 0o755)
	_ = os.WriteFile(m.Path("/tmp/.preinit"), nil, 0o600)
	if !m.InPreinit() {
		t.Fatal("/tmp/.preinit not seen")
	}
}

func TestVolumeName(t *testing.T) {
	m, _, _ := fakeMounter(t)
	if m.name() != "rootfs_data" {
		t.Fatal(m.name())
	}
	m.Cmdline = []string{"fstools_overlay_name=data2"}
	if m.name() != "data2" {
		t.Fatal(m.name())
	}
	m.Name = "flag"
	if m.name() != "flag" {
		t.Fatal(m.name())
	}
}

func TestMainModes(t *testing.T) {
	if code := Main([]string{"mount_root", "stop"}); code != 0 {
		t.Fatalf("stop: %d", code)
	}
	if code := Main([]string{"mount_root", "bogus"}); code != 1 {
		t.Fatalf("bogus: %d", code)
	}
}
