// Package udevtrigger is /sbin/udevtrigger: replay "add" events for the
// devices that exist (coldplug), as procd's udevtrigger does.
package udevtrigger

import (
	"io"
	"os"
	"strings"

	"toybox-go/applets/internal/getopt"
	"toybox-go/applets/internal/uevent"
	"toybox-go/applets/printf"
)

// Usage is printed by --help.
const Usage = `usage: udevtrigger [-dnv] [-r SYSROOT] [-s SUBSYSTEM]...

Make the kernel announce every existing device again, so that the hotplug
daemon creates its node and runs its scripts: write "add" to the uevent file of
each device under SYSROOT/bus/*/devices, SYSROOT/class/* and, on kernels
without SYSROOT/class/block, SYSROOT/block. Each device is written once, in
sorted order. Unlike procd's udevtrigger, devices without a device number (net
interfaces, USB interfaces, buttons, platform devices) are included, so their
/etc/hotplug.d scripts also run at boot; -d keeps procd's choice. A device
that refuses the write is reported and skipped.

-d            only devices with a dev file (a device number), as procd does
-n            dry run: print the uevent files that would be written, write nothing
-r SYSROOT    sysfs root (default /sys)
-s SUBSYSTEM  only this bus or class (block: also SYSROOT/block); repeatable
-v            print each uevent file as it is written`

// Main runs udevtrigger.
func Main(args []string) int {
	return run(args, os.Stdout, os.Stderr)
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := getopt.New("udevtrigger", Usage, stderr)
	t := &uevent.Trigger{}
	fs.BoolVar(&t.DevOnly, "d")
	dry := fs.Bool("n")
	fs.StringVar(&t.Sys, "r", "/sys")
	fs.Func("s", func(s string) error {
		for _, n := range strings.Split(s, ",") {
			if n != "" {
				t.Subsystems = append(t.Subsystems, n)
			}
		}
		return nil
	})
	verbose := fs.Bool("v")
	if err := fs.Parse(args[1:]); err != nil {
		return 1
	}
	if fs.NArg() != 0 {
		fs.Usage()
		return 1
	}
	files, err := t.Devices()
	if err != nil {
		printf.Fprintln(stderr, "udevtrigger:", err)
		return 1
	}
	if *dry || *verbose {
		for _, f := range files {
			printf.Fprintln(stdout, f)
		}
	}
	if *dry {
		return 0
	}
	_, errs := t.Write(files)
	for _, e := range errs {
		printf.Fprintln(stderr, "udevtrigger:", e)
	}
	return 0
}
