package kmodloader

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"toybox-go/applets/internal/modinfo"
	"toybox-go/internal/testbin"
)

// dropCaches empties the page cache so that the next run reads from disk.
func dropCaches(b *testing.B) {
	b.Helper()
	exec.Command("sync").Run()
	if err := os.WriteFile("/proc/sys/vm/drop_caches", []byte("3\n"), 0o200); err != nil {
		testbin.Unavailable(b, "cannot drop the page cache: %v", err)
	}
}

// BenchmarkColdCache compares, from a cold page cache, over Debian's generic
// kernel tree (about 4,000 modules): building the whole index (every
// .modinfo, the alias table), our modprobe -n -v by name (walk + three
// modules) and by alias (the whole scan), and kmod's modprobe -n -v on the
// same tree after depmod (its binary indexes).
func BenchmarkColdCache(b *testing.B) {
	testbin.RequireRoot(b)
	cmd := exec.Command("sh", filepath.Join(testbin.ModuleRoot(b), "scripts", "fetch-kernel.sh"))
	cmd.Env = append(os.Environ(), "FLAVOUR=amd64")
	out, err := cmd.Output()
	if err != nil {
		testbin.Unavailable(b, "FLAVOUR=amd64 fetch-kernel.sh: %v", err)
	}
	kdir := string(out[:len(out)-1])
	relb, err := os.ReadFile(filepath.Join(kdir, "version"))
	if err != nil {
		b.Fatal(err)
	}
	rel := string(relb[:len(relb)-1])
	tree := filepath.Join(kdir, "lib", "modules", rel)
	depmod := testbin.RequireTool(b, "depmod")
	kmod := testbin.RequireTool(b, "modprobe")
	bin := testbin.Path(b)

	// kmod's tree: the same modules (symlinked directory) plus depmod's files.
	dep := b.TempDir()
	moddir := filepath.Join(dep, "lib", "modules", rel)
	os.MkdirAll(moddir, 0o755)
	os.Symlink(filepath.Join(tree, "kernel"), filepath.Join(moddir, "kernel"))
	for _, f := range []string{"modules.builtin", "modules.builtin.modinfo", "modules.order"} {
		data, _ := os.ReadFile(filepath.Join(tree, f))
		os.WriteFile(filepath.Join(moddir, f), data, 0o644)
	}
	if o, err := exec.Command(depmod, "-b", dep, rel).CombinedOutput(); err != nil {
		b.Fatalf("depmod: %v %s", err, o)
	}
	scan := kdir // lib/modules/REL below it, without depmod's files

	run := func(b *testing.B, argv ...string) {
		for b.Loop() {
			b.StopTimer()
			dropCaches(b)
			b.StartTimer()
			if o, err := exec.Command(argv[0], argv[1:]...).CombinedOutput(); err != nil {
				b.Fatalf("%q: %v %s", argv, err, o)
			}
		}
	}
	b.Run("index-walk-only", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			dropCaches(b)
			b.StartTimer()
			if _, err := modinfo.Open(tree, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, workers := range []int{1, 2, 8, 32} {
		b.Run(fmt.Sprintf("index-scanall-workers=%d", workers), func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				dropCaches(b)
				b.StartTimer()
				ix, err := modinfo.Open(tree, nil)
				if err != nil {
					b.Fatal(err)
				}
				ix.Workers = workers
				ix.ScanAll()
			}
		})
	}
	b.Run("ours-modprobe-n-v-bridge", func(b *testing.B) {
		run(b, bin, "modprobe", "-d", scan, "-S", rel, "-n", "-v", "bridge")
	})
	b.Run("ours-modprobe-n-v-fs-overlay", func(b *testing.B) {
		run(b, bin, "modprobe", "-d", scan, "-S", rel, "-n", "-v", "fs-overlay")
	})
	b.Run("kmod-modprobe-n-v-bridge", func(b *testing.B) {
		run(b, kmod, "-d", dep, "-S", rel, "-n", "-v", "bridge")
	})
	b.Run("kmod-modprobe-n-v-fs-overlay", func(b *testing.B) {
		run(b, kmod, "-d", dep, "-S", rel, "-n", "-v", "fs-overlay")
	})
}
