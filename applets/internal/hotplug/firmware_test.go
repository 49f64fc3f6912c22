package hotplug

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fwRequest makes the sysfs side of one firmware request (loading, data) and
// returns its DEVPATH and sysfs directory.
func fwRequest(t *testing.T, tr *tree, name string) (string, string) {
	t.Helper()
	devpath := "/devices/platform/wifi0/firmware/" + strings.ReplaceAll(name, "/", "!")
	dir := filepath.Join(tr.sys, devpath)
	tr.write(t, filepath.Join("sys", devpath, "loading"), "", 0o644)
	tr.write(t, filepath.Join("sys", devpath, "data"), "", 0o644)
	return devpath, dir
}

func TestLoadFirmware(t *testing.T) {
	tr := newTree(t)
	image := bytes.Repeat([]byte("firmware!"), 5000) // several write chunks
	tr.write(t, "lib/firmware/brcm/wifi.bin", string(image), 0o644)
	if err := os.Symlink("wifi.bin", filepath.Join(tr.fw, "brcm", "alias.bin")); err != nil {
		t.Fatal(err)
	}
	outside := tr.write(t, "secret", "do not send", 0o600)
	if err := os.Symlink(outside, filepath.Join(tr.fw, "abs.bin")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../../secret", filepath.Join(tr.fw, "rel.bin")); err != nil {
		t.Fatal(err)
	}
	// The current hotplug.json: exec hotplug-call firmware, then load-firmware.
	p, lb, _ := newPlug(t, tr, currentRules(t, tr.root), Config{})

	tests := []struct {
		name, firmware string
		loading        string // final content of loading
		data           []byte
	}{
		{"found", "brcm/wifi.bin", "0", image},
		{"link inside the directory", "brcm/alias.bin", "0", image},
		{"missing", "nope.bin", "-1", nil},
		{"climbing name", "../../secret", "-1", nil},
		{"absolute name", "/etc/passwd", "-1", nil},
		{"absolute link", "abs.bin", "-1", nil},
		{"link out of the directory", "rel.bin", "-1", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			devpath, dir := fwRequest(t, tr, tc.name)
			p.Handle(event(t, "ACTION=add", "DEVPATH="+devpath, "SUBSYSTEM=firmware", "FIRMWARE="+tc.firmware))
			waitIdle(t, p)
			if got := readFile(t, filepath.Join(dir, "loading")); got != tc.loading {
				t.Errorf("loading = %q, want %q\n%s", got, tc.loading, lb)
			}
			if got := readFile(t, filepath.Join(dir, "data")); !bytes.Equal([]byte(got), tc.data) {
				t.Errorf("data: %d bytes, want %d", len(got), len(tc.data))
			}
		})
	}
	if !strings.Contains(lb.String(), "leaves the firmware directory") {
		t.Errorf("refusal not logged:\n%s", lb)
	}
}

func TestLoadFirmwareBadDevpath(t *testing.T) {
	tr := newTree(t)
	p, lb, _ := newPlug(t, tr, emitter{{"load-firmware", "/lib/firmware"}}, Config{})
	// Parse refuses such a DEVPATH from the socket; the executor checks again.
	ev := event(t, "ACTION=add", "DEVPATH=/devices/x", "FIRMWARE=a.bin")
	for i := range ev.Vars {
		if ev.Vars[i].Key == "DEVPATH" {
			ev.Vars[i].Value = "/../../etc"
		}
	}
	p.Handle(ev)
	waitIdle(t, p)
	if !strings.Contains(lb.String(), `DEVPATH "/../../etc" refused`) {
		t.Errorf("log: %s", lb)
	}
}
