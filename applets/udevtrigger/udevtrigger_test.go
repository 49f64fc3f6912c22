package udevtrigger

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// fakeSys: two devices through bus and class symlinks, one without a dev file.
func fakeSys(t *testing.T) string {
	t.Helper()
	sys := t.TempDir()
	sys, _ = filepath.EvalSymlinks(sys)
	for _, d := range []struct {
		path   string
		hasDev bool
	}{{"devices/virtual/mem/zero", true}, {"devices/virtual/net/lo", false}, {"devices/platform/pcspkr", false}} {
		dir := filepath.Join(sys, d.path)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "uevent"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if d.hasDev {
			if err := os.WriteFile(filepath.Join(dir, "dev"), []byte("1:5\n"), 0o444); err != nil {
				t.Fatal(err)
			}
		}
	}
	for link, target := range map[string]string{
		"class/mem/zero":              "../../devices/virtual/mem/zero",
		"class/net/lo":                "../../devices/virtual/net/lo",
		"bus/platform/devices/pcspkr": "../../../devices/platform/pcspkr",
	} {
		p := filepath.Join(sys, link)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, p); err != nil {
			t.Fatal(err)
		}
	}
	return sys
}

func uevents(t *testing.T, sys string) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, d := range []string{"virtual/mem/zero", "virtual/net/lo", "platform/pcspkr"} {
		b, err := os.ReadFile(filepath.Join(sys, "devices", d, "uevent"))
		if err != nil {
			t.Fatal(err)
		}
		m[d] = string(b)
	}
	return m
}

func TestWrites(t *testing.T) {
	tests := []struct {
		args []string
		want map[string]string
	}{
		{nil, map[string]string{"virtual/mem/zero": "add", "virtual/net/lo": "add", "platform/pcspkr": "add"}},
		{[]string{"-d"}, map[string]string{"virtual/mem/zero": "add", "virtual/net/lo": "", "platform/pcspkr": ""}},
		{[]string{"-s", "net"}, map[string]string{"virtual/mem/zero": "", "virtual/net/lo": "add", "platform/pcspkr": ""}},
		{[]string{"-s", "mem,platform"}, map[string]string{"virtual/mem/zero": "add", "virtual/net/lo": "", "platform/pcspkr": "add"}},
		{[]string{"-n"}, map[string]string{"virtual/mem/zero": "", "virtual/net/lo": "", "platform/pcspkr": ""}},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			sys := fakeSys(t)
			var out, errb bytes.Buffer
			args := append([]string{"udevtrigger", "-r", sys}, tc.args...)
			if code := run(args, &out, &errb); code != 0 {
				t.Fatalf("exit %d: %s", code, errb.String())
			}
			if got := uevents(t, sys); !mapsEqual(got, tc.want) {
				t.Errorf("uevent files %v, want %v", got, tc.want)
			}
		})
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestDryRunLists(t *testing.T) {
	sys := fakeSys(t)
	var out, errb bytes.Buffer
	if code := run([]string{"udevtrigger", "-n", "-r", sys}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	want := []string{
		sys + "/devices/platform/pcspkr/uevent",
		sys + "/devices/virtual/mem/zero/uevent",
		sys + "/devices/virtual/net/lo/uevent",
	}
	if got := strings.Fields(out.String()); !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

// TestRealSysfsDryRun lists this machine's devices and writes nothing (-n
// never opens a uevent file for writing; TestWrites checks that on a fake tree).
func TestRealSysfsDryRun(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"udevtrigger", "-n"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	lines := strings.Fields(out.String())
	if !slices.Contains(lines, "/sys/devices/virtual/net/lo/uevent") || !slices.Contains(lines, "/sys/devices/virtual/mem/null/uevent") {
		t.Errorf("lo or null missing from %d lines", len(lines))
	}
	out.Reset()
	if code := run([]string{"udevtrigger", "-n", "-d", "-s", "mem"}, &out, &errb); code != 0 {
		t.Fatal(errb.String())
	}
	for _, l := range strings.Fields(out.String()) {
		if _, err := os.Stat(filepath.Join(filepath.Dir(l), "dev")); err != nil {
			t.Errorf("%s listed with -d: %v", l, err)
		}
	}
}

func TestErrors(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"udevtrigger", "-r", filepath.Join(t.TempDir(), "none")}, &out, &errb); code != 1 {
		t.Errorf("missing sysfs: exit %d", code)
	}
	if code := run([]string{"udevtrigger", "extra"}, &out, &errb); code != 1 {
		t.Errorf("extra argument: exit %d", code)
	}
	if code := run([]string{"udevtrigger", "-x"}, &out, &errb); code != 1 {
		t.Errorf("unknown option: exit %d", code)
	}
}
