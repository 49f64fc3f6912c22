package initramfs

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/u-root/u-root/pkg/cpio"
)

// records decodes an archive into name -> record.
func records(t *testing.T, b *Builder) (map[string]cpio.Record, []string) {
	t.Helper()
	var buf bytes.Buffer
	if err := b.Encode(&buf); err != nil {
		t.Fatal(err)
	}
	recs, err := cpio.ReadAllRecords(cpio.Newc.Reader(bytes.NewReader(buf.Bytes())))
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]cpio.Record{}
	var order []string
	for _, r := range recs {
		m[r.Name] = r
		order = append(order, r.Name)
	}
	return m, order
}

func TestBuilderArchive(t *testing.T) {
	host := t.TempDir()
	if err := os.MkdirAll(filepath.Join(host, "etc/rc.d"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(host, "etc/inittab"), []byte("::sysinit:/x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(host, "etc/init.d-boot"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../init.d-boot", filepath.Join(host, "etc/rc.d/S10boot")); err != nil {
		t.Fatal(err)
	}
	b := New()
	if err := b.Tree("", host); err != nil {
		t.Fatal(err)
	}
	b.File("deep/new/dir/file", []byte("x"), 0o600)
	b.Symlink("init", "/bin/toybox-go")

	m, order := records(t, b)
	for name, want := range map[string]uint64{
		"etc/inittab":       cpio.S_IFREG | 0o644,
		"etc/init.d-boot":   cpio.S_IFREG | 0o755,
		"etc/rc.d/S10boot":  cpio.S_IFLNK | 0o777,
		"dev/console":       cpio.S_IFCHR | 0o600,
		"dev/null":          cpio.S_IFCHR | 0o666,
		"deep/new/dir/file": cpio.S_IFREG | 0o600,
		"deep/new/dir":      cpio.S_IFDIR | 0o755,
		"init":              cpio.S_IFLNK | 0o777,
		"proc":              cpio.S_IFDIR | 0o755,
	} {
		r, ok := m[name]
		if !ok {
			t.Errorf("%s missing from the archive", name)
			continue
		}
		if r.Mode != want {
			t.Errorf("%s: mode %o, want %o", name, r.Mode, want)
		}
	}
	if r := m["dev/console"]; r.Rmajor != 5 || r.Rminor != 1 {
		t.Errorf("dev/console is %d:%d, want 5:1", r.Rmajor, r.Rminor)
	}
	// Every parent comes before its children: the kernel unpacks in order.
	seen := map[string]bool{}
	for _, name := range order {
		if dir := filepath.Dir(name); dir != "." && !seen[dir] {
			t.Errorf("%s comes before its directory %s", name, dir)
		}
		seen[name] = true
	}
}

func TestModulesMissing(t *testing.T) {
	kdir := t.TempDir()
	mods := filepath.Join(kdir, "lib/modules/6.1.0-test/kernel/fs")
	if err := os.MkdirAll(mods, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(mods, "nls_iso8859-1.ko"), []byte("ko"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(kdir, "lib/modules/6.1.0-test/modules.builtin"), []byte("kernel/fs/ext4/ext4.ko\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	b := New()
	err := b.Modules(kdir, "6.1.0-test", "nls_iso8859_1", "nosuch-module")
	if err == nil || !strings.Contains(err.Error(), "nosuch_module") {
		t.Fatalf("missing module not reported: %v", err)
	}
	b = New()
	if err := b.Modules(kdir, "6.1.0-test", "nls-iso8859-1"); err != nil {
		t.Fatal(err)
	}
	m, _ := records(t, b)
	for _, name := range []string{"lib/modules/6.1.0-test/kernel/fs/nls_iso8859-1.ko", "lib/modules/6.1.0-test/modules.builtin"} {
		if _, ok := m[name]; !ok {
			t.Errorf("%s missing", name)
		}
	}
}
