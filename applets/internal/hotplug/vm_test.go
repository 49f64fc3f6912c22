package hotplug

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"toybox-go/applets/internal/kmsg"
	"toybox-go/applets/internal/rules"
	"toybox-go/internal/testbin"
	"toybox-go/internal/vmtest"
)

// vmInit is /init of the VM: the mounts init would make, then this test
// binary as the coldplug helper, then off.
const vmInit = `#!/bin/sh
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts && mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /tmp
HOTPLUG_TEST_HELPER=vm TOYBOX_GO_LOG=stderr /hptest
poweroff -f
`

// TestVMColdplug boots Debian's kernel with OpenWrt's current hotplug.json and
// runs Coldplug on the real /dev and /sys: the nodes OpenWrt expects appear
// with their modes and groups before Coldplug returns, lo (no device number)
// reaches hotplug.d/net, and busybox mdev -s on a fresh /dev is timed in the
// same boot for comparison (logged; compare with -v).
func TestVMColdplug(t *testing.T) {
	k := vmtest.GetKernel(t)
	// This test binary, static (the one running may use cgo), as the helper.
	self := filepath.Join(t.TempDir(), "hptest")
	build := exec.Command("go", "test", "-c", "-o", self, "./applets/internal/hotplug")
	build.Dir = testbin.ModuleRoot(t)
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the static test binary: %v\n%s", err, out)
	}
	ir := vmtest.NewInitramfs(t)
	vmtest.AddBusybox(t, ir)
	if err := ir.HostFile("hptest", self, 0o755); err != nil {
		t.Fatal(err)
	}
	rulesText, err := os.ReadFile(filepath.Join(fixtures, "current", "hotplug.json"))
	if err != nil {
		t.Fatal(err)
	}
	ir.File("init", []byte(vmInit), 0o755)
	ir.File("etc/hotplug.json", rulesText, 0o644)
	ir.File("etc/group", []byte("root:x:0:\ndialout:x:20:\naudio:x:29:\n"), 0o644)
	ir.Dir("etc/hotplug.d", 0o755)
	ir.Dir("etc/hotplug.d/net", 0o755)
	ir.File("etc/hotplug.d/net/10-say", []byte(`echo "hotplug.d/net: $ACTION $INTERFACE $HOTPLUG_TYPE"`+"\n"), 0o644)
	res := vmtest.Boot(t, vmtest.Machine{Kernel: k, Initramfs: ir, Append: "rdinit=/init loglevel=1"})
	res.Healthy(t)
	res.Contains(t, "hotplug.d/net: add lo net", "vm: coldplug settled", "vm: mdev -s", "vm coldplug ok")
	for _, l := range regexp.MustCompile(`(vm: |coldplug settled in |: exit [0-9]+ after )[^\n]*`).FindAllString(res.Console, -1) {
		t.Log(l)
	}
}

// vmHelper runs as /hptest in the VM (PID 2, child of the /init shell).
func vmHelper() int {
	log := kmsg.New("hotplug")
	fail := func(format string, a ...any) int {
		fmt.Printf("vm coldplug FAIL: "+format+"\n", a...)
		return 1
	}
	s, err := rules.LoadFile("/etc/hotplug.json")
	if err != nil {
		return fail("%v", err)
	}
	p, err := New(Config{Rules: s, Log: log})
	if err != nil {
		return fail("%v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go p.Run(ctx.Done())
	start := time.Now()
	err = p.Coldplug(ctx.Done())
	took := time.Since(start)
	cancel()
	if err != nil {
		return fail("Coldplug: %v", err)
	}
	nodes := countNodes("/dev")
	fmt.Printf("vm: coldplug settled in %v: %d events, %d nodes\n", took.Round(time.Millisecond), p.SourceStats().Accepted, nodes)
	type want struct {
		name       string
		typ, mode  uint32
		gid        uint32
		checkGroup bool
	}
	for _, w := range []want{
		{"null", unix.S_IFCHR, 0o666, 0, false},
		{"zero", unix.S_IFCHR, 0o666, 0, false},
		{"ptmx", unix.S_IFCHR, 0o666, 0, false},
		{"console", unix.S_IFCHR, 0o600, 0, false},
		{"ttyS0", unix.S_IFCHR, 0o660, 20, true},
		{"mem", unix.S_IFCHR, 0o600, 0, false},
	} {
		var st unix.Stat_t
		if err := unix.Lstat("/dev/"+w.name, &st); err != nil {
			return fail("/dev/%s: %v", w.name, err)
		}
		if st.Mode&unix.S_IFMT != w.typ || st.Mode&0o7777 != w.mode || (w.checkGroup && st.Gid != w.gid) {
			return fail("/dev/%s: mode %o gid %d", w.name, st.Mode, st.Gid)
		}
	}
	if l, err := os.Readlink("/dev/fd"); err != nil || l != "/proc/self/fd" {
		return fail("/dev/fd: %q %v", l, err)
	}
	var fsst unix.Statfs_t
	if err := unix.Statfs("/dev/pts", &fsst); err != nil || fsst.Type != unix.DEVPTS_SUPER_MAGIC {
		return fail("/dev/pts is not devpts: %v", err)
	}
	p.Close()

	// busybox mdev -s on a fresh tmpfs /dev, for comparison.
	_ = unix.Unmount("/dev/pts", unix.MNT_DETACH)
	_ = unix.Unmount("/dev", unix.MNT_DETACH)
	if err := unix.Mount("tmpfs", "/dev", "tmpfs", 0, "mode=0755"); err != nil {
		return fail("%v", err)
	}
	if err := unix.Mknod("/dev/null", unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))); err != nil {
		return fail("%v", err)
	}
	start = time.Now()
	out, err := exec.Command("/sbin/mdev", "-s").CombinedOutput()
	took = time.Since(start)
	if err != nil {
		return fail("mdev -s: %v %s", err, out)
	}
	fmt.Printf("vm: mdev -s took %v: %d nodes\n", took.Round(time.Millisecond), countNodes("/dev"))
	fmt.Println("vm coldplug ok")
	return 0
}

func countNodes(dir string) int {
	n := 0
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type()&(fs.ModeDevice|fs.ModeCharDevice) != 0 && !strings.HasPrefix(p, "/dev/pts/") {
			n++
		}
		return nil
	})
	return n
}
