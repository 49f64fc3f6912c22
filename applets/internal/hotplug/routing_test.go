package hotplug

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// recorder keeps the rules' commands and passes on to the Plug only those
// that act on the fake tree: exec and button name real programs of the host
// (/etc/rc.button/reset on an OpenWrt build host would be a bad surprise).
type recorder struct {
	r   Rules
	cmd []string
}

func (rc *recorder) Run(vars map[string]string, emit func(string, []string)) {
	rc.r.Run(vars, func(c string, args []string) {
		rc.cmd = append(rc.cmd, strings.TrimSpace(c+" "+strings.Join(args, " ")))
		if c == "makedev" || c == "rm" || c == "load-firmware" {
			emit(c, args)
		}
	})
}

// TestOpenWrtRulesRouting sends the same recorded events through both
// generations of OpenWrt's hotplug.json. The expected commands are written
// from procd's rules as the spec describes them (sections 6.4 and 6.5), not
// from our output. /etc/hotplug.d holds net and block only.
func TestOpenWrtRulesRouting(t *testing.T) {
	ev := map[string][]string{
		"disk": {"ACTION=add", "DEVPATH=/devices/pci0000:00/0000:00:01.1/ata1/host0/target0:0:0/0:0:0:0/block/sda",
			"SUBSYSTEM=block", "MAJOR=8", "MINOR=0", "DEVNAME=sda", "DEVTYPE=disk"},
		"serial":   {"ACTION=add", "DEVPATH=/devices/platform/serial8250/tty/ttyS0", "SUBSYSTEM=tty", "MAJOR=4", "MINOR=64", "DEVNAME=ttyS0"},
		"gpiochip": {"ACTION=add", "DEVPATH=/devices/platform/gpio/gpiochip0", "SUBSYSTEM=gpio", "MAJOR=254", "MINOR=0", "DEVNAME=gpiochip0"},
		"lo":       {"ACTION=add", "DEVPATH=/devices/virtual/net/lo", "SUBSYSTEM=net", "INTERFACE=lo", "IFINDEX=1"},
		"button":   {"ACTION=pressed", "DEVPATH=/devices/platform/gpio-keys", "SUBSYSTEM=button", "BUTTON=reset", "SEEN=0"},
		"unplug": {"ACTION=remove", "DEVPATH=/devices/pci0000:00/0000:00:01.1/ata1/host0/target0:0:0/0:0:0:0/block/sda",
			"SUBSYSTEM=block", "MAJOR=8", "MINOR=0", "DEVNAME=sda"},
		"firmware": {"ACTION=add", "DEVPATH=/devices/platform/wifi0/firmware/x.bin", "SUBSYSTEM=firmware", "FIRMWARE=x.bin"},
		"platform": {"ACTION=add", "DEVPATH=/devices/platform/leds-gpio", "SUBSYSTEM=platform", "DRIVER=leds-gpio"},
		"usbserial": {"ACTION=add", "DEVPATH=/devices/pci0000:00/0000:00:06.0/usb1/1-1/1-1:1.0/ttyUSB0",
			"SUBSYSTEM=usb-serial"},
		"mapper": {"ACTION=add", "DEVPATH=/devices/virtual/misc/device-mapper", "SUBSYSTEM=misc", "MAJOR=10", "MINOR=236", "DEVNAME=mapper/control"},
	}
	order := []string{"disk", "serial", "gpiochip", "lo", "button", "unplug", "firmware", "platform", "usbserial", "mapper"}
	hc := "exec /sbin/hotplug-call "
	want := map[string]map[string][]string{
		"current": {
			"disk":      {"makedev /dev/sda 0600", hc + "block"},
			"serial":    {"makedev /dev/ttyS0 0660 dialout", "makedev /dev/ttyS0 0600"},
			"gpiochip":  {"makedev /dev/gpiochip0 0600"},
			"lo":        {hc + "net"},
			"button":    {"button /etc/rc.button/reset"},
			"unplug":    {"rm /dev/sda", hc + "block"},
			"firmware":  {hc + "firmware", "load-firmware /lib/firmware"},
			"platform":  nil,
			"usbserial": {hc + "tty"},
			"mapper":    {"makedev /dev/mapper/control 0600"},
		},
		"chaos_calmer": {
			"disk":      {"makedev /dev/sda 0644", hc + "block"},
			"serial":    {"makedev /dev/ttyS0 0644", hc + "tty"},
			"gpiochip":  {"makedev /dev/gpiochip0 0666"},
			"lo":        {hc + "net"},
			"button":    {"exec /etc/rc.button/reset", hc + "button"},
			"unplug":    {"rm /dev/sda", hc + "block"},
			"firmware":  {hc + "firmware", "load-firmware /lib/firmware"},
			"platform":  {hc + "platform"},
			"usbserial": {hc + "tty"},
			"mapper":    {"makedev /dev/mapper/control 0600"},
		},
	}
	for gen, w := range want {
		t.Run(gen, func(t *testing.T) {
			tr := newTree(t)
			for _, d := range []string{"net", "block"} {
				if err := os.MkdirAll(filepath.Join(tr.etc, "hotplug.d", d), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			b, err := os.ReadFile(filepath.Join(fixtures, gen, "hotplug.json"))
			if err != nil {
				t.Fatal(err)
			}
			s, err := parseRulesLenient(tr.root, b)
			if err != nil {
				t.Fatal(err)
			}
			rec := &recorder{r: s}
			p, _, _ := newPlug(t, tr, rec, Config{})
			for _, name := range order {
				rec.cmd = nil
				p.Handle(event(t, ev[name]...))
				waitIdle(t, p)
				if strings.Join(rec.cmd, "; ") != strings.Join(w[name], "; ") {
					t.Errorf("%s: got %q, want %q", name, rec.cmd, w[name])
				}
			}
		})
	}
}
