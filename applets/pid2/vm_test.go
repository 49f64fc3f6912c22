package pid2_test

import (
	"strings"
	"testing"
	"time"

	"toybox-go/internal/vmtest"
)

// TestVMWatchdogFed: tier 3, the real thing. init loads softdog, opens
// /dev/watchdog (30 s timeout) and hands the fd over to oneit and pid2
// (WDTFD); a second open of /dev/watchdog would fail with EBUSY. A once entry
// makes pid2 re-exec itself (SIGQUIT) and waits 45 s: the machine must not be
// reset by the watchdog, so pid2 fed the handed-over fd before and after.
// (A pid2 killed and relaunched by oneit is the namespace test's: here oneit
// cannot relaunch it, see the report: the serial console is hung up when
// pid2, its session leader, dies.)
func TestVMWatchdogFed(t *testing.T) {
	k := vmtest.GetKernel(t)
	ir := vmtest.NewInitramfs(t)
	vmtest.AddBusybox(t, ir)
	if err := ir.Modules(k.Dir, k.Release, "watchdog", "softdog"); err != nil {
		t.Fatal(err)
	}
	ir.File("etc/modules-boot.d/10-wdt", []byte("softdog\n"), 0o644)
	ir.File("etc/inittab", []byte("::once:/etc/alive\n"), 0o644)
	// Its output goes to /dev/kmsg: a task's output pipe to pid2 does not
	// survive pid2's re-exec.
	ir.File("etc/alive", []byte(`#!/bin/sh
exec >/dev/kmsg 2>&1
echo "ALIVE: timeout $(cat /sys/class/watchdog/watchdog0/timeout), service WDTFD=[$WDTFD]"
sleep 2
kill -QUIT $PPID
sleep 45
echo "ALIVE: still up at $(cut -d. -f1 /proc/uptime) s"
poweroff
`), 0o755)
	res := vmtest.Boot(t, vmtest.Machine{Kernel: k, Initramfs: ir, Append: "rdinit=/sbin/init loglevel=7",
		Timeout: 240 * time.Second})
	res.Healthy(t)
	const feeding = "watchdog: feeding fd "
	res.Contains(t, "softdog", "- watchdog -", feeding, "ALIVE: timeout 30, service WDTFD=[]",
		"restart: exec", feeding, "ALIVE: still up at ", "reboot: Power down")
	res.Lacks(t, "watchdog: WDTFD", "/dev/watchdog: device or resource busy", "Initiating system reboot")
	if n := strings.Count(res.Console, feeding); n != 2 {
		t.Errorf("%d pid2 took the watchdog, want 2", n)
	}
}
