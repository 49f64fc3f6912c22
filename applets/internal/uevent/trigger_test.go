package uevent

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// fakeSys builds a small sysfs: devices under devices/, reached through
// relative symlinks from bus/*/devices and class/*, as the kernel lays it out.
func fakeSys(t *testing.T, withClassBlock bool) string {
	t.Helper()
	sys := t.TempDir()
	dev := func(p string, hasDev bool, mode os.FileMode) {
		d := filepath.Join(sys, p)
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "uevent"), nil, mode); err != nil {
			t.Fatal(err)
		}
		if hasDev {
			if err := os.WriteFile(filepath.Join(d, "dev"), []byte("4:64\n"), 0o444); err != nil {
				t.Fatal(err)
			}
		}
	}
	link := func(from, to string) {
		p := filepath.Join(sys, from)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(to, p); err != nil {
			t.Fatal(err)
		}
	}
	dev("devices/platform/serial8250", false, 0o644)
	dev("devices/platform/serial8250/tty/ttyS0", true, 0o644)
	dev("devices/pci0000:00/0000:00:01.0", false, 0o644)
	dev("devices/pci0000:00/0000:00:01.0/block/sda", true, 0o644)
	dev("devices/virtual/net/lo", false, 0o644)
	dev("devices/virtual/mem/null", true, 0o644)
	dev("devices/virtual/misc/readonly", true, 0o444) // no write permission: skipped
	link("bus/platform/devices/serial8250", "../../../devices/platform/serial8250")
	link("bus/pci/devices/0000:00:01.0", "../../../devices/pci0000:00/0000:00:01.0")
	link("bus/pci/devices/.hidden", "../../../devices/virtual/mem/null")
	link("class/tty/ttyS0", "../../devices/platform/serial8250/tty/ttyS0")
	link("class/net/lo", "../../devices/virtual/net/lo")
	link("class/mem/null", "../../devices/virtual/mem/null")
	link("class/misc/readonly", "../../devices/virtual/misc/readonly")
	link("class/misc/null-again", "../../devices/virtual/mem/null") // reached twice: once
	link("class/broken/gone", "../../devices/nowhere")
	if withClassBlock {
		link("class/block/sda", "../../devices/pci0000:00/0000:00:01.0/block/sda")
	}
	link("block/sda", "../devices/pci0000:00/0000:00:01.0/block/sda")
	if err := os.MkdirAll(filepath.Join(sys, "bus", "empty", "devices"), 0o755); err != nil {
		t.Fatal(err)
	}
	return sys
}

func rel(sys string, files []string) []string {
	var out []string
	for _, f := range files {
		out = append(out, strings.TrimPrefix(strings.TrimSuffix(f, "/uevent"), sys+"/devices/"))
	}
	return out
}

func TestTriggerDevices(t *testing.T) {
	sys := fakeSys(t, true)
	// EvalSymlinks reports the resolved temp dir (it may itself be a symlink).
	sys, _ = filepath.EvalSymlinks(sys)
	all := []string{
		"pci0000:00/0000:00:01.0", "platform/serial8250", // bus/pci, bus/platform
		"pci0000:00/0000:00:01.0/block/sda", // class/block
		"virtual/mem/null",                  // class/mem
		"virtual/net/lo",                    // class/net
		"platform/serial8250/tty/ttyS0",     // class/tty
	}
	tests := []struct {
		name string
		tr   Trigger
		want []string
	}{
		{"all", Trigger{Sys: sys}, all},
		{"dev only (procd)", Trigger{Sys: sys, DevOnly: true}, []string{
			"pci0000:00/0000:00:01.0/block/sda", "virtual/mem/null", "platform/serial8250/tty/ttyS0"}},
		{"subsystem net", Trigger{Sys: sys, Subsystems: []string{"net"}}, []string{"virtual/net/lo"}},
		{"subsystems pci and tty", Trigger{Sys: sys, Subsystems: []string{"tty", "pci"}}, []string{
			"pci0000:00/0000:00:01.0", "platform/serial8250/tty/ttyS0"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			files, err := tc.tr.Devices()
			if err != nil {
				t.Fatal(err)
			}
			if got := rel(sys, files); !slices.Equal(got, tc.want) {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestTriggerOldKernelBlock(t *testing.T) {
	sys := fakeSys(t, false)
	sys, _ = filepath.EvalSymlinks(sys)
	files, err := (&Trigger{Sys: sys, Subsystems: []string{"block"}}).Devices()
	if err != nil {
		t.Fatal(err)
	}
	if got := rel(sys, files); !slices.Equal(got, []string{"pci0000:00/0000:00:01.0/block/sda"}) {
		t.Errorf("without class/block, sys/block must be walked: got %q", got)
	}
}

func TestTriggerWritesExactly(t *testing.T) {
	sys := fakeSys(t, true)
	tr := &Trigger{Sys: sys, DevOnly: true}
	n, errs, err := tr.Run()
	if err != nil || len(errs) != 0 || n != 3 {
		t.Fatalf("Run = %d, %v, %v", n, errs, err)
	}
	err = filepath.Walk(filepath.Join(sys, "devices"), func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.Name() != "uevent" {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		want := ""
		if _, err := os.Stat(filepath.Join(filepath.Dir(p), "dev")); err == nil && fi.Mode().Perm()&0o200 != 0 {
			want = "add"
		}
		if string(b) != want {
			t.Errorf("%s holds %q, want %q", p, b, want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestTriggerMissingSysfs(t *testing.T) {
	if _, err := (&Trigger{Sys: filepath.Join(t.TempDir(), "nope")}).Devices(); err == nil {
		t.Fatal("no error for a missing sysfs root")
	}
}

// TestTriggerRealSysfs lists the devices of this machine's /sys without writing.
func TestTriggerRealSysfs(t *testing.T) {
	all, err := (&Trigger{Sys: "/sys"}).Devices()
	if err != nil {
		t.Fatal(err)
	}
	devOnly, err := (&Trigger{Sys: "/sys", DevOnly: true}).Devices()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(all, "/sys/devices/virtual/net/lo/uevent") {
		t.Errorf("lo not listed among %d devices", len(all))
	}
	if slices.Contains(devOnly, "/sys/devices/virtual/net/lo/uevent") {
		t.Error("lo has no dev file but is listed with DevOnly")
	}
	if !slices.Contains(devOnly, "/sys/devices/virtual/mem/null/uevent") {
		t.Errorf("/dev/null's device not listed with DevOnly: %q", devOnly)
	}
	for _, f := range devOnly {
		if _, err := os.Stat(filepath.Join(filepath.Dir(f), "dev")); err != nil {
			t.Errorf("%s listed with DevOnly: %v", f, err)
		}
		if !slices.Contains(all, f) {
			t.Errorf("%s listed with DevOnly only", f)
		}
	}
	seen := map[string]bool{}
	for _, f := range all {
		if seen[f] {
			t.Errorf("%s listed twice", f)
		}
		seen[f] = true
		if !strings.HasPrefix(f, "/sys/devices/") && !strings.HasPrefix(f, "/sys/module/") {
			t.Errorf("%s is not a canonical device path", f)
		}
	}
}

func BenchmarkTriggerDevicesRealSysfs(b *testing.B) {
	tr := &Trigger{Sys: "/sys"}
	for b.Loop() {
		if _, err := tr.Devices(); err != nil {
			b.Fatal(err)
		}
	}
}
