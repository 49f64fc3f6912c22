// Package vmtest is the third test tier: it boots Debian's kernel (fetched by
// scripts/fetch-kernel.sh) with an initramfs under qemu -accel tcg (KVM hangs on
// these machines), and returns what the serial console printed.
//
//	k := vmtest.GetKernel(t)
//	ir := vmtest.NewInitramfs(t)           // skeleton + toybox-go + applet symlinks
//	ir.File("etc/inittab", data, 0o644)    // any initramfs.Builder method
//	res := vmtest.Boot(t, vmtest.Machine{Kernel: k, Initramfs: ir,
//		Append: "rdinit=/sbin/oneit -- /bin/toybox-go --list"})
//	res.Contains(t, "sbin/oneit")
//
// The kernel gets "console=ttyS0 panic=-1" (a panic ends qemu at once) and qemu
// -no-reboot, so a reboot or poweroff ends the run: Boot returns when qemu exits
// or fails the test at the timeout. Tests that need kernel messages (or the
// kmsg log of init and pid2) on the console add "loglevel=7" to Append.
package vmtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"toybox-go/internal/initramfs"
	"toybox-go/internal/testbin"
)

// Kernel is an unpacked Debian kernel package.
type Kernel struct {
	Dir     string // holds vmlinux, version and lib/modules
	Vmlinux string
	Release string // uname -r
}

// ModulesDir is lib/modules/RELEASE on the host.
func (k *Kernel) ModulesDir() string { return filepath.Join(k.Dir, "lib", "modules", k.Release) }

var (
	kernelMu sync.Mutex
	kernels  = map[string]*kernelEntry{} // by flavour, "" = the default
)

type kernelEntry struct {
	k   *Kernel
	err error
}

// GetKernel returns the test kernel, fetching it once ($TOYBOX_GO_KERNEL_DIR
// names an already unpacked one).
func GetKernel(t testing.TB) *Kernel {
	t.Helper()
	return GetKernelFlavour(t, "")
}

// GetKernelFlavour returns Debian's linux-image-FLAVOUR kernel, fetched once
// (FLAVOUR=flavour scripts/fetch-kernel.sh); "" is the default (cloud-amd64,
// or $TOYBOX_GO_KERNEL_DIR). "amd64" is the generic kernel, which has what the
// cloud one leaves out (MTD, UBI, jffs2, as modules).
func GetKernelFlavour(t testing.TB, flavour string) *Kernel {
	t.Helper()
	kernelMu.Lock()
	e := kernels[flavour]
	if e == nil {
		e = &kernelEntry{}
		e.k, e.err = fetchKernel(t, flavour)
		kernels[flavour] = e
	}
	kernelMu.Unlock()
	if e.err != nil {
		testbin.Unavailable(t, "no test kernel: %v", e.err)
	}
	return e.k
}

func fetchKernel(t testing.TB, flavour string) (*Kernel, error) {
	dir := ""
	if flavour == "" {
		dir = os.Getenv("TOYBOX_GO_KERNEL_DIR")
	}
	if dir == "" {
		cmd := exec.Command("sh", filepath.Join(testbin.ModuleRoot(t), "scripts", "fetch-kernel.sh"))
		if flavour != "" {
			cmd.Env = append(os.Environ(), "FLAVOUR="+flavour)
		}
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			return nil, fmt.Errorf("FLAVOUR=%s fetch-kernel.sh: %w: %s", flavour, err, stderr.String())
		}
		dir = strings.TrimSpace(string(out))
	}
	rel, err := os.ReadFile(filepath.Join(dir, "version"))
	if err != nil {
		return nil, err
	}
	return &Kernel{Dir: dir, Vmlinux: filepath.Join(dir, "vmlinux"), Release: strings.TrimSpace(string(rel))}, nil
}

// DiskModules are the modules Debian's cloud kernel needs for a virtio disk
// (/dev/vda), dependencies first.
var DiskModules = []string{"virtio", "virtio_ring", "virtio_pci_modern_dev", "virtio_pci_legacy_dev", "virtio_pci", "virtio_blk"}

// NewInitramfs returns a builder holding the skeleton, the toybox-go binary
// under test and its applet symlinks.
func NewInitramfs(t testing.TB) *initramfs.Builder {
	t.Helper()
	b := initramfs.New()
	if err := b.Toybox(testbin.Path(t)); err != nil {
		t.Fatal(err)
	}
	return b
}

// AddBusybox adds Debian's static busybox (for /bin/sh and friends).
func AddBusybox(t testing.TB, b *initramfs.Builder) {
	t.Helper()
	bb := "/bin/busybox"
	if _, err := os.Stat(bb); err != nil {
		testbin.Unavailable(t, "busybox-static is not installed")
	}
	if err := b.Busybox(bb); err != nil {
		t.Fatal(err)
	}
}

// Machine describes one boot.
type Machine struct {
	Kernel    *Kernel
	Initramfs *initramfs.Builder
	Append    string        // kernel command line, after the defaults
	Disks     []string      // raw images, attached as virtio disks (vda, vdb...)
	MemoryMB  int           // default 512
	Timeout   time.Duration // default 180 s
	QEMUArgs  []string      // anything else
}

// Result is what a boot printed and how it ended.
type Result struct {
	Console  string
	Duration time.Duration
}

// Contains fails the test unless the console holds every string, in order.
func (r *Result) Contains(t testing.TB, want ...string) {
	t.Helper()
	rest := r.Console
	for _, w := range want {
		i := strings.Index(rest, w)
		if i < 0 {
			t.Fatalf("console lacks %q (in order); console:\n%s", w, r.Console)
		}
		rest = rest[i+len(w):]
	}
}

// Lacks fails the test if the console holds any of the strings.
func (r *Result) Lacks(t testing.TB, bad ...string) {
	t.Helper()
	for _, b := range bad {
		if strings.Contains(r.Console, b) {
			t.Fatalf("console holds %q; console:\n%s", b, r.Console)
		}
	}
}

// Healthy fails the test if the kernel panicked or init died.
func (r *Result) Healthy(t testing.TB) {
	t.Helper()
	r.Lacks(t, "Kernel panic", "Attempted to kill init", "panic: ", "goroutine ")
}

// QEMU returns the qemu binary, gating the test on it.
func QEMU(t testing.TB) string {
	t.Helper()
	return testbin.RequireTool(t, "qemu-system-x86_64")
}

// Boot runs the machine until qemu exits and returns the console.
func Boot(t testing.TB, m Machine) *Result {
	t.Helper()
	qemu := QEMU(t)
	if m.Kernel == nil {
		m.Kernel = GetKernel(t)
	}
	if m.MemoryMB == 0 {
		m.MemoryMB = 512
	}
	if m.Timeout == 0 {
		m.Timeout = 180 * time.Second
	}
	dir := t.TempDir()
	initrd := filepath.Join(dir, "initramfs.cpio")
	if err := m.Initramfs.Write(initrd); err != nil {
		t.Fatal(err)
	}
	args := Args(m.Kernel.Vmlinux, initrd, m.MemoryMB, m.Append)
	for _, d := range m.Disks {
		args = append(args, "-drive", "file="+d+",if=virtio,format=raw")
	}
	args = append(args, m.QEMUArgs...)

	ctx, cancel := context.WithTimeout(context.Background(), m.Timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, qemu, args...)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	start := time.Now()
	err := cmd.Run()
	res := &Result{Console: strings.ReplaceAll(out.String(), "\r\n", "\n"), Duration: time.Since(start)}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Fatalf("the VM did not stop within %v; console:\n%s", m.Timeout, res.Console)
	}
	if err != nil {
		t.Fatalf("qemu: %v; output:\n%s", err, res.Console)
	}
	t.Logf("VM ran %v", res.Duration.Round(time.Millisecond))
	return res
}

// Args is the qemu command line for a boot with the console on stdout; `make
// run` uses the same one, interactively.
func Args(vmlinux, initrd string, memoryMB int, appendLine string) []string {
	return []string{
		"-accel", "tcg", "-M", "pc", "-m", fmt.Sprint(memoryMB), "-smp", "1",
		"-display", "none", "-monitor", "none", "-serial", "stdio", "-nic", "none",
		"-no-reboot",
		"-kernel", vmlinux, "-initrd", initrd,
		"-append", strings.TrimSpace("console=ttyS0 panic=-1 " + appendLine),
	}
}
