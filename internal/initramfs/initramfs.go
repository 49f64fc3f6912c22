// Package initramfs builds the initramfs images the VM tests and `make
// initramfs` boot: a newc cpio archive (u-root's pkg/cpio writes it) holding the
// toybox-go binary with its applet symlinks, optionally busybox, kernel modules
// and configuration files. It is a build tool: nothing of it goes into the
// toybox-go binary.
package initramfs

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/u-root/u-root/pkg/cpio"
)

// Builder collects the archive's records by path; later additions replace
// earlier ones.
type Builder struct {
	recs map[string]cpio.Record
}

// New returns a builder holding the skeleton every boot needs: the usual
// top-level directories, and /dev/console and /dev/null, which the kernel and
// the first process use before anything mounts /dev.
func New() *Builder {
	b := &Builder{recs: map[string]cpio.Record{}}
	for _, d := range []string{"bin", "sbin", "dev", "proc", "sys", "tmp", "run", "etc", "lib", "root", "overlay", "rom", "mnt", "var"} {
		b.Dir(d, 0o755)
	}
	b.CharDev("dev/console", 0o600, 5, 1)
	b.CharDev("dev/null", 0o666, 1, 3)
	return b
}

func clean(p string) string { return strings.TrimPrefix(path.Clean("/"+p), "/") }

// Dir adds a directory.
func (b *Builder) Dir(p string, perm uint64) { b.recs[clean(p)] = cpio.Directory(clean(p), perm) }

// File adds a regular file with the given content.
func (b *Builder) File(p string, data []byte, perm uint64) {
	b.recs[clean(p)] = cpio.StaticFile(clean(p), string(data), perm)
}

// Symlink adds a symbolic link.
func (b *Builder) Symlink(p, target string) { b.recs[clean(p)] = cpio.Symlink(clean(p), target) }

// CharDev adds a character device node.
func (b *Builder) CharDev(p string, perm, major, minor uint64) {
	b.recs[clean(p)] = cpio.CharDev(clean(p), perm, major, minor)
}

// HostFile adds the content of a host file.
func (b *Builder) HostFile(p, host string, perm uint64) error {
	data, err := os.ReadFile(host)
	if err != nil {
		return fmt.Errorf("initramfs: %w", err)
	}
	b.File(p, data, perm)
	return nil
}

// Tree adds a host directory's files, directories and symlinks below prefix,
// keeping their permissions.
func (b *Builder) Tree(prefix, host string) error {
	return filepath.WalkDir(host, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(host, p)
		dst := path.Join(prefix, filepath.ToSlash(rel))
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			b.Dir(dst, uint64(info.Mode().Perm()))
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			b.Symlink(dst, target)
		case d.Type().IsRegular():
			return b.HostFile(dst, p, uint64(info.Mode().Perm()))
		}
		return nil
	})
}

// Toybox adds the binary as /bin/toybox-go and a symlink for every applet at
// the install path its --list prints (sbin/oneit ...).
func (b *Builder) Toybox(bin string) error {
	if err := b.HostFile("bin/toybox-go", bin, 0o755); err != nil {
		return err
	}
	out, err := exec.Command(bin, "--list").Output()
	if err != nil {
		return fmt.Errorf("initramfs: %s --list: %w", bin, err)
	}
	for _, p := range strings.Fields(string(out)) {
		b.Symlink(p, "/bin/toybox-go")
	}
	return nil
}

// Busybox adds a static busybox as /bin/busybox with a symlink for each of its
// applets that is not already in the archive (toybox-go's applets win).
func (b *Builder) Busybox(bin string) error {
	if err := b.HostFile("bin/busybox", bin, 0o755); err != nil {
		return err
	}
	out, err := exec.Command(bin, "--list-full").Output()
	if err != nil {
		return fmt.Errorf("initramfs: %s --list-full: %w", bin, err)
	}
	for _, p := range strings.Fields(string(out)) {
		if _, taken := b.recs[clean(p)]; !taken {
			b.Symlink(p, "/bin/busybox")
		}
	}
	return nil
}

// Modules adds kernel modules from a kernel tree (the directory holding
// lib/modules/RELEASE), each at its path in the tree, by module name (with "-"
// and "_" alike). It returns an error naming the modules it did not find.
func (b *Builder) Modules(kernelDir, release string, names ...string) error {
	root := filepath.Join(kernelDir, "lib", "modules", release)
	want := map[string]bool{}
	for _, n := range names {
		want[strings.ReplaceAll(n, "-", "_")] = true
	}
	found := map[string]bool{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		base := d.Name()
		name, ok := strings.CutSuffix(base, ".ko")
		if !ok {
			return nil
		}
		name = strings.ReplaceAll(name, "-", "_")
		if !want[name] {
			return nil
		}
		rel, _ := filepath.Rel(kernelDir, p)
		found[name] = true
		return b.HostFile(filepath.ToSlash(rel), p, 0o644)
	})
	if err != nil {
		return fmt.Errorf("initramfs: modules: %w", err)
	}
	var missing []string
	for n := range want {
		if !found[n] {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return fmt.Errorf("initramfs: modules not found under %s: %s", root, strings.Join(missing, " "))
	}
	// The built-in lists let a loader skip built-in modules instead of
	// failing to find them.
	for _, f := range []string{"modules.builtin", "modules.builtin.modinfo"} {
		host := filepath.Join(root, f)
		if _, err := os.Stat(host); err == nil {
			if err := b.HostFile(path.Join("lib/modules", release, f), host, 0o644); err != nil {
				return err
			}
		}
	}
	return nil
}

// Encode writes the archive: parents before children, then the trailer.
// Parent directories nobody added are made 0755 (pkg/cpio would make them
// 0777).
func (b *Builder) Encode(w io.Writer) error {
	for p := range b.recs {
		for dir := path.Dir(p); dir != "." && dir != "/"; dir = path.Dir(dir) {
			if _, ok := b.recs[dir]; !ok {
				b.Dir(dir, 0o755)
			}
		}
	}
	paths := make([]string, 0, len(b.recs))
	for p := range b.recs {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	recs := make([]cpio.Record, 0, len(paths))
	for _, p := range paths {
		recs = append(recs, cpio.MakeReproducible(b.recs[p]))
	}
	rw := cpio.Newc.Writer(w)
	if err := cpio.WriteRecordsAndDirs(rw, recs); err != nil {
		return fmt.Errorf("initramfs: %w", err)
	}
	if err := cpio.WriteTrailer(rw); err != nil {
		return fmt.Errorf("initramfs: %w", err)
	}
	return nil
}

// Write writes the archive to a file.
func (b *Builder) Write(file string) error {
	var buf bytes.Buffer
	if err := b.Encode(&buf); err != nil {
		return err
	}
	return os.WriteFile(file, buf.Bytes(), 0o644)
}
