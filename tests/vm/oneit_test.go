// Package vm holds the whole-system boots of the third test tier.
package vm

import (
	"testing"

	"toybox-go/internal/vmtest"
)

// TestOneitAsKernelInit boots /sbin/oneit as the kernel's init, running a tiny
// command; when it exits oneit must reboot the machine (qemu -no-reboot exits),
// never die ("Attempted to kill init").
func TestOneitAsKernelInit(t *testing.T) {
	t.Parallel()
	ir := vmtest.NewInitramfs(t)
	res := vmtest.Boot(t, vmtest.Machine{Initramfs: ir,
		Append: "rdinit=/sbin/oneit -- /bin/toybox-go --list"})
	res.Contains(t, "sbin/oneit", "reboot: Restarting system")
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
