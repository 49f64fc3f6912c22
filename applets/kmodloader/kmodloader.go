// Package kmodloader is ubox's kmodloader in Go: the boot loader of
// /etc/modules-boot.d and /etc/modules.d, and the insmod, rmmod, lsmod, modinfo
// and modprobe applets, all one Main dispatching on the name it was run as.
//
// Modules come from applets/internal/modinfo (an index of /lib/modules/RELEASE
// built from each module's .modinfo, or from depmod's files when they are
// fresh). Unlike ubox, dependencies include soft dependencies, built-in modules
// count as loaded, aliases are glob patterns, and a failure is reported with the
// kernel's reason.
package kmodloader

import (
	"io"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"toybox-go/applets/internal/kmsg"
	"toybox-go/applets/internal/modinfo"
	"toybox-go/applets/printf"
)

// Usage is kmodloader's usage text.
const Usage = `usage: kmodloader [DIR]

Load the kernel modules listed in the files of DIR (default /etc/modules.d), the
way OpenWrt's ubox does at boot: files in lexical order, one "module [params]"
per line, # comments. Files whose name starts with a digit load at once, line by
line; the others load together at the end, with a retry pass. Dependencies and
soft dependencies load first; loaded and built-in modules are skipped;
/etc/modules.conf blacklist and options lines apply. Failures are logged with
the kernel's reason and the rest still load; the exit status is 0.

Also answers to insmod, rmmod, lsmod, modinfo and modprobe (by the name it runs
as, or as "kmodloader APPLET ARGS").`

// InsmodUsage is insmod's usage text.
const InsmodUsage = `usage: insmod FILE|NAME [PARAM=VALUE...]

Load one module file (or the module NAME from /lib/modules/RELEASE) without its
dependencies, with the given parameters.`

// RmmodUsage is rmmod's usage text.
const RmmodUsage = `usage: rmmod [-f] NAME...

Unload modules.

-f	force unloading a module that is in use (needs CONFIG_MODULE_FORCE_UNLOAD)`

// LsmodUsage is lsmod's usage text.
const LsmodUsage = `usage: lsmod

List the loaded modules (/proc/modules): name, size, use count and users.`

// ModinfoUsage is modinfo's usage text.
const ModinfoUsage = `usage: modinfo [-adlnp] [-F FIELD] [-k RELEASE] [-b BASEDIR] NAME|FILE...

Show a module's .modinfo fields (built-in modules too): filename, alias,
depends, parm, license, vermagic...

-F FIELD	print only the values of FIELD
-a -d -l -n -p	-F author, description, license, filename, parm
-k RELEASE	use /lib/modules/RELEASE instead of the running kernel's
-b BASEDIR	find /lib/modules under BASEDIR`

// ModprobeUsage is modprobe's usage text.
const ModprobeUsage = `usage: modprobe [-arqvnDi] [-d BASEDIR] [-S RELEASE] NAME|ALIAS [PARAM=VALUE...]

Load a module by name or alias (glob patterns, so modalias strings and the
names the kernel's request_module asks for work), with its dependencies and
soft dependencies, and the options of /etc/modules.conf and /etc/modprobe.d.
A modprobe.d "install MODULE COMMAND..." runs COMMAND with /bin/sh -c instead
of loading MODULE (a dependency too; $CMDLINE_OPTS in it becomes the options,
$MODPROBE_MODULE holds the name), "remove MODULE COMMAND..." likewise for -r;
a command that fails is an error.

-a	load every argument (no parameters)
-r	unload the modules and the dependencies nothing else uses
-q	quiet: no error for an unknown module
-v	verbose: print what is done
-n	dry run: do nothing (with -v: print the insmod lines)
-D	--show-depends: print the insmod lines of the module and its
	dependencies, loaded or not ("builtin NAME" for a built-in)
-d DIR	find /lib/modules under DIR
-S REL	use kernel release REL
-i	--ignore-install, --ignore-remove: no install or remove command for the
	modules named (their dependencies' install commands still run)`

// System holds everything the applets touch, so tests run them on fake trees
// with a fake loader.
type System struct {
	ModulesRoot string // directory holding the release directories: /lib/modules
	Release     string // uname -r
	Proc        string // /proc
	Etc         string // /etc
	Sys         string // /sys; "" (tests) reads nothing there
	// LibraryPath is $LD_LIBRARY_PATH: each DIR in it with a
	// DIR/modules/RELEASE folder is searched before ModulesRoot, as ubox does
	// (extroot loads modules from the overlay that way).
	LibraryPath string

	// Insert loads a module file with parameters; Remove unloads one.
	Insert func(path, params string) error
	Remove func(name string, force bool) error

	Stdout, Stderr io.Writer
	// Log is the loader mode's logger (kmsg at boot).
	Log *kmsg.Logger
}

// ModDir is /lib/modules/RELEASE.
func (s *System) ModDir() string { return filepath.Join(s.ModulesRoot, s.Release) }

// Default returns the System of the running machine.
func Default() *System {
	var u unix.Utsname
	rel := ""
	if err := unix.Uname(&u); err == nil {
		rel = unix.ByteSliceToString(u.Release[:])
	}
	return &System{
		ModulesRoot: "/lib/modules",
		Release:     rel,
		Proc:        "/proc",
		Etc:         "/etc",
		Sys:         "/sys",
		LibraryPath: os.Getenv("LD_LIBRARY_PATH"),
		Insert:      insertKernel,
		Remove:      removeKernel,
		Stdout:      os.Stdout,
		Stderr:      os.Stderr,
	}
}

var appletNames = []string{"insmod", "rmmod", "lsmod", "modinfo", "modprobe"}

// Main dispatches on the base name of args[0].
func Main(args []string) int {
	return Default().Main(args)
}

// Main runs the applet args[0] names on s.
func (s *System) Main(args []string) int {
	if len(args) == 0 {
		args = []string{"kmodloader"}
	}
	name := filepath.Base(args[0])
	if name == "kmodloader" && len(args) > 1 {
		for _, a := range appletNames {
			if args[1] == a {
				name, args = a, args[1:]
				break
			}
		}
	}
	switch name {
	case "insmod":
		return s.insmod(args)
	case "rmmod":
		return s.rmmod(args)
	case "lsmod":
		return s.lsmod(args)
	case "modinfo":
		return s.modinfo(args)
	case "modprobe":
		return s.modprobe(args)
	}
	return s.boot(args)
}

// conf reads /etc/modules.conf (OpenWrt) and the modprobe.d directories kmod
// reads, in its order of precedence.
func (s *System) conf() *modinfo.Conf {
	root := filepath.Dir(filepath.Dir(s.ModulesRoot)) // "/" of /lib/modules
	paths := []string{filepath.Join(s.Etc, "modules.conf"), filepath.Join(s.Etc, "modprobe.d")}
	for _, d := range []string{"run", "usr/local/lib", "usr/lib", "lib"} {
		paths = addString(paths, filepath.Join(root, d, "modprobe.d"))
	}
	return modinfo.LoadConf(paths...)
}

func (s *System) errorf(name, format string, args ...any) {
	printf.Fprintf(s.Stderr, "%s: %s\n", name, printf.Sprintf(format, args...))
}

// say prints one line of modprobe -v/-n/-D output. Kept out of line
// (go:noinline): an inlined copy at each of its callers costs more than a call.
//
//go:noinline
func (s *System) say(line string) {
	io.WriteString(s.Stdout, line+"\n")
}

// fail prints "name: err" on stderr. Kept out of line (go:noinline): an
// inlined copy at each of its ten callers costs more than a call.
//
//go:noinline
func (s *System) fail(name string, err error) {
	printf.Fprintf(s.Stderr, "%s: %v\n", name, err)
}

// openIndex indexes the module folders: $LD_LIBRARY_PATH's, then
// /lib/modules/RELEASE.
func (s *System) openIndex(conf *modinfo.Conf) (*modinfo.Index, error) {
	var dirs []string
	for _, d := range strings.Split(s.LibraryPath, ":") {
		if d != "" {
			dirs = addString(dirs, filepath.Join(d, "modules", s.Release))
		}
	}
	ix, err := modinfo.OpenAll(append(dirs, s.ModDir()), conf)
	if err != nil {
		return nil, printf.Errorf("no module folder for kernel %s: %w", s.Release, err)
	}
	return ix, nil
}

// cpuModalias is the running CPU's modalias ("cpu:type:x86,ven...:feature:,0000,..."),
// or "" when unknown.
func (s *System) cpuModalias() string {
	if s.Sys == "" {
		return ""
	}
	b, err := os.ReadFile(filepath.Join(s.Sys, "devices", "system", "cpu", "modalias"))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// isFileArg tells a module file argument from a module name.
func isFileArg(arg string) bool {
	if strings.ContainsRune(arg, '/') {
		return true
	}
	st, err := os.Stat(arg)
	return err == nil && st.Mode().IsRegular() && strings.Contains(arg, ".ko")
}
