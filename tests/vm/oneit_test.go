// Package vm holds the whole-system boots of the third test tier.
package vm

import (
	"testing"

	"toybox-go/internal/vmtest"
)

// TestOneitAsKernelInit boots /sbin/oneit as the kernel's init, running a tiny
// command; when it exits oneit must reboot the machine (qemu -no-reboot exits),
// never die ("Attempted to kill init"). Nobody mounts /proc here, so oneit has
// no mount table at shutdown: it still remounts / read-only.
func TestOneitAsKernelInit(t *testing.T) {
	t.Parallel()
	ir := vmtest.NewInitramfs(t)
	res := vmtest.Boot(t, vmtest.Machine{Initramfs: ir,
		Append: "rdinit=/sbin/oneit -- /bin/toybox-go --list"})
	res.Contains(t, "sbin/oneit", "remounted / read-only", "reboot: Restarting system")
	res.Healthy(t)
}

// TestOneitPowerOff: -p powers off instead (ACPI ends qemu too).
func TestOneitPowerOff(t *testing.T) {
	t.Parallel()
	ir := vmtest.NewInitramfs(t)
	res := vmtest.Boot(t, vmtest.Machine{Initramfs: ir,
		Append: "rdinit=/sbin/oneit -- -p /bin/toybox-go --version"})
	res.Contains(t, "toybox-go ", "reboot: Power down")
	res.Healthy(t)
}

// TestOneitRelaunchOnSerialConsole: when the child, session leader with the
// serial console as its controlling tty, exits, the kernel hangs the tty up;
// oneit must relaunch it on a fresh open of the console (the old file only
// gives EIO), as it must relaunch a crashed pid2 on real hardware.
func TestOneitRelaunchOnSerialConsole(t *testing.T) {
	t.Parallel()
	ir := vmtest.NewInitramfs(t)
	vmtest.AddBusybox(t, ir)
	ir.CharDev("dev/ttyS0", 0o600, 4, 64)
	ir.File("launch", []byte(`n=$(cat /n 2>/dev/null || echo 0); n=$((n + 1)); echo $n > /n
echo "LAUNCH $n on $(tty)"
[ $n -ge 3 ] && exec /sbin/poweroff -f
exit 0
`), 0o755)
	res := vmtest.Boot(t, vmtest.Machine{Initramfs: ir,
		Append: "rdinit=/sbin/oneit -- -r -c /dev/ttyS0 /bin/sh /launch"})
	res.Healthy(t)
	res.Lacks(t, "input/output error")
	res.Contains(t, "LAUNCH 1 on /dev/ttyS0", "LAUNCH 2 on /dev/ttyS0", "LAUNCH 3 on /dev/ttyS0", "reboot: Power down")
}

// TestUnknownNameAsKernelInit: the kernel runs the binary under a name that
// is no applet (rdinit=/bin/toybox-go, with a leftover kernel parameter as its
// argument): it must run init, not print its usage and exit (which panics the
// kernel).
func TestUnknownNameAsKernelInit(t *testing.T) {
	t.Parallel()
	bootToPolicy(t, "rdinit=/bin/toybox-go -- single", `started as PID 1 as "/bin/toybox-go": running init`)
}

// TestAppletReturningAsPID1RunsInit: an applet that returns, run as the
// kernel's init (rdinit=/sbin/lsmod), must not end PID 1: init boots the
// system instead.
func TestAppletReturningAsPID1RunsInit(t *testing.T) {
	t.Parallel()
	bootToPolicy(t, "rdinit=/sbin/lsmod", "lsmod ended (status 1) as PID 1: running init")
}

// bootToPolicy boots with cmdline and checks that the console says want and
// that init then handed over to oneit, whose policy child (init.pid2=) powers
// the machine off.
func bootToPolicy(t *testing.T, cmdline, want string) {
	t.Helper()
	ir := vmtest.NewInitramfs(t)
	vmtest.AddBusybox(t, ir)
	ir.File("policy", []byte("#!/bin/sh\necho \"POLICY under $(cat /proc/1/comm)\"\nexec /sbin/poweroff -f\n"), 0o755)
	res := vmtest.Boot(t, vmtest.Machine{Initramfs: ir, Append: "init.pid2=/policy " + cmdline})
	res.Contains(t, want, "POLICY under oneit", "reboot: Power down")
	res.Healthy(t)
}
