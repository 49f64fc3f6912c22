// Command mkinitramfs writes an initramfs (newc cpio) holding toybox-go, its
// applet symlinks and whatever else a boot needs. `make initramfs` and `make
// run` use it; see README.md, "Building an initramfs".
//
//	mkinitramfs -o OUT -bin toybox-go [-busybox PATH] [-tree HOSTDIR[:PREFIX]]...
//	            [-kernel DIR -modules NAME,NAME...] [-dev NAME:MAJOR:MINOR]...
//	            [-symlink PATH=TARGET]...
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"toybox-go/internal/initramfs"
)

type list []string

func (l *list) String() string     { return strings.Join(*l, ",") }
func (l *list) Set(v string) error { *l = append(*l, v); return nil }

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "mkinitramfs:", err)
		os.Exit(1)
	}
}

func run() error {
	out := flag.String("o", "initramfs.cpio", "output file")
	bin := flag.String("bin", "build/toybox-go", "the toybox-go binary")
	busybox := flag.String("busybox", "", "a static busybox to add as /bin/busybox (for /bin/sh)")
	kernel := flag.String("kernel", "", "kernel directory from scripts/fetch-kernel.sh (for -modules)")
	modules := flag.String("modules", "", "comma-separated module names to copy from -kernel")
	var trees, devs, links list
	flag.Var(&trees, "tree", "HOSTDIR[:PREFIX]: copy a host directory into the image (repeatable)")
	flag.Var(&devs, "dev", "NAME:MAJOR:MINOR: a character device under /dev (repeatable)")
	flag.Var(&links, "symlink", "PATH=TARGET: a symlink, e.g. init=/bin/toybox-go (repeatable)")
	flag.Parse()

	b := initramfs.New()
	if err := b.Toybox(*bin); err != nil {
		return err
	}
	if *busybox != "" {
		if err := b.Busybox(*busybox); err != nil {
			return err
		}
	}
	for _, t := range trees {
		host, prefix, _ := strings.Cut(t, ":")
		if err := b.Tree(prefix, host); err != nil {
			return err
		}
	}
	for _, d := range devs {
		f := strings.Split(d, ":")
		if len(f) != 3 {
			return fmt.Errorf("-dev %q: want NAME:MAJOR:MINOR", d)
		}
		major, err1 := strconv.ParseUint(f[1], 10, 32)
		minor, err2 := strconv.ParseUint(f[2], 10, 32)
		if err1 != nil || err2 != nil {
			return fmt.Errorf("-dev %q: bad numbers", d)
		}
		b.CharDev(filepath.Join("dev", f[0]), 0o600, major, minor)
	}
	for _, l := range links {
		p, target, ok := strings.Cut(l, "=")
		if !ok || p == "" || target == "" {
			return fmt.Errorf("-symlink %q: want PATH=TARGET", l)
		}
		b.Symlink(p, target)
	}
	if *modules != "" {
		rel, err := os.ReadFile(filepath.Join(*kernel, "version"))
		if err != nil {
			return fmt.Errorf("-modules needs -kernel: %w", err)
		}
		if err := b.Modules(*kernel, strings.TrimSpace(string(rel)), strings.Split(*modules, ",")...); err != nil {
			return err
		}
	}
	return b.Write(*out)
}
