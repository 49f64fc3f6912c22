package kmodloader

import (
	"bytes"
	"errors"
	"os"
	"runtime"
	"strings"
	"sync"

	"golang.org/x/sys/unix"

	"toybox-go/applets/internal/elfsect"
	"toybox-go/applets/internal/modinfo"
	"toybox-go/applets/printf"
)

// LoadError is a module that the kernel refused, with the reason in words.
type LoadError struct {
	Module string
	Path   string
	Errno  error
	Hint   string   // what the errno usually means here
	Kernel []string // what the kernel logged about it meanwhile, if readable
}

func (e *LoadError) Error() string {
	what := e.Errno.Error()
	if e.Errno == unix.ENOENT {
		what = "ENOENT" // "no such file" would mislead: the file is there
	}
	msg := e.Path + ": " + what
	if e.Hint != "" {
		msg += " (" + e.Hint + ")"
	}
	if len(e.Kernel) > 0 {
		msg += "; kernel: " + strings.Join(e.Kernel, "; ")
	}
	return msg
}

func (e *LoadError) Unwrap() error { return e.Errno }

// insertKernel loads a module file with finit_module(2); compressed files go
// with MODULE_INIT_COMPRESSED_FILE (the kernel decompresses: this binary has no
// xz or zstd). It falls back to init_module(2) where finit_module is missing.
// The kernel's own log lines about the failure are attached when /dev/kmsg is
// readable.
func insertKernel(path, params string) error {
	fd, err := modinfo.OpenFile(path, 0) // open(2), not os.Open (see there)
	if err != nil {
		return err
	}
	flags := 0
	comp := modinfo.Compressed(path)
	if comp != "" {
		flags |= unix.MODULE_INIT_COMPRESSED_FILE
	}
	watch := watchKmsg()
	err = unix.FinitModule(fd, params, flags)
	if err == unix.ENOSYS && comp == "" {
		var image []byte
		if image, err = os.ReadFile(path); err == nil {
			err = unix.InitModule(image, params)
		}
	}
	unix.Close(fd)
	if err == nil || err == unix.EEXIST {
		return nil
	}
	name := modinfo.Normalize(baseName(path))
	return &LoadError{Module: name, Path: path, Errno: err, Hint: hint(err, path, comp), Kernel: watch.linesAbout(name)}
}

func baseName(p string) string {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[i+1:]
	}
	return p
}

// hint says what an errno of init_module usually means.
func hint(err error, path, comp string) string {
	errno, _ := err.(unix.Errno)
	switch errno {
	case unix.ENOEXEC:
		return "invalid module format: " + formatMismatch(path)
	case unix.ENOENT:
		return "unknown symbol in module: a dependency is missing or not loaded, see dmesg"
	case unix.ENODEV:
		return "no such device: the hardware or CPU feature it drives is absent"
	case unix.EINVAL:
		if comp != "" {
			return "invalid parameter, or a kernel older than 5.17 that cannot load compressed modules"
		}
		return "invalid parameter value, or the module's init failed, see dmesg"
	case unix.EOPNOTSUPP:
		if comp != "" {
			return "the kernel cannot decompress " + comp + " modules (CONFIG_MODULE_DECOMPRESS): decompress it first"
		}
		return "not supported by this kernel or machine"
	case unix.EPERM:
		if os.Geteuid() != 0 {
			return "must be root (CAP_SYS_MODULE)"
		}
		return "not permitted: kernel.modules_disabled is set, or a lockdown or security module refuses it"
	case unix.EKEYREJECTED, unix.EBADMSG:
		return "module signature rejected"
	case unix.EBUSY:
		return "busy: the device is taken by another driver"
	case unix.ENOMEM, unix.ENOSPC:
		return "out of memory"
	case unix.EFAULT:
		return "module image unreadable or truncated"
	case unix.ENOSYS:
		return "this kernel has no module support (CONFIG_MODULES is off)"
	}
	return ""
}

// formatMismatch explains ENOEXEC from the file: another architecture, another
// kernel's vermagic, or a file that is no module at all.
func formatMismatch(path string) string {
	fields, mach, err := modinfo.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	if want := hostMachine(); want != 0 && mach != want {
		return "built for " + mach.String() + ", this machine is " + runtime.GOARCH
	}
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		rel := unix.ByteSliceToString(u.Release[:])
		for _, f := range fields {
			if f.Key == "vermagic" {
				if got, _, _ := strings.Cut(f.Value, " "); got != rel {
					return "vermagic mismatch: built for kernel " + got + ", running " + rel
				}
			}
		}
	}
	return "see dmesg (symbol versions or a vermagic mismatch)"
}

// hostMachine is the ELF machine of this binary's architecture, 0 when
// unknown. runtime.GOARCH is a constant: the switch folds away.
func hostMachine() elfsect.Machine {
	switch runtime.GOARCH {
	case "amd64":
		return elfsect.EM_X86_64
	case "386":
		return elfsect.EM_386
	case "arm":
		return elfsect.EM_ARM
	case "arm64":
		return elfsect.EM_AARCH64
	case "mips", "mipsle", "mips64", "mips64le":
		return elfsect.EM_MIPS
	case "riscv64":
		return elfsect.EM_RISCV
	case "ppc64le":
		return elfsect.EM_PPC64
	case "s390x":
		return elfsect.EM_S390
	case "loong64":
		return elfsect.EM_LOONGARCH
	}
	return 0
}

// kmsgWatch reads what the kernel logs while a module loads: /dev/kmsg, opened
// once per process, is moved to its end before each load, and the records
// that came after are read on a failure.
type kmsgWatch struct{ fd int }

var (
	kmsgOnce sync.Once
	kmsgFD   = -1
)

func watchKmsg() kmsgWatch {
	kmsgOnce.Do(func() {
		if fd, err := unix.Open("/dev/kmsg", unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0); err == nil {
			kmsgFD = fd
		}
	})
	if kmsgFD < 0 {
		return kmsgWatch{-1}
	}
	if _, err := unix.Seek(kmsgFD, 0, unix.SEEK_END); err != nil {
		return kmsgWatch{-1}
	}
	return kmsgWatch{kmsgFD}
}

// linesAbout returns the new records that mention module (either spelling),
// or, when none does (the file's name is not the module's), all of them: the
// window is one system call long.
func (w kmsgWatch) linesAbout(module string) []string {
	if w.fd < 0 {
		return nil
	}
	var out, all []string
	buf := make([]byte, 8192)
	alt := strings.ReplaceAll(module, "_", "-")
	for range 256 {
		n, err := unix.Read(w.fd, buf)
		if err == unix.EPIPE {
			continue // records were overwritten; carry on with the next
		}
		if err != nil || n <= 0 {
			break
		}
		rec := buf[:n]
		if i := bytes.IndexByte(rec, ';'); i >= 0 {
			rec = rec[i+1:]
		}
		if i := bytes.IndexByte(rec, '\n'); i >= 0 {
			rec = rec[:i]
		}
		line := string(rec)
		to := &out // one append for both lists
		if !strings.Contains(line, module) && !strings.Contains(line, alt) {
			if len(all) >= 4 {
				continue
			}
			to = &all
		}
		*to = append(*to, line)
		if len(out) >= 4 {
			break
		}
	}
	if len(out) == 0 {
		return all
	}
	return out
}

// removeKernel unloads a module with delete_module(2).
func removeKernel(name string, force bool) error {
	flags := unix.O_NONBLOCK
	if force {
		flags |= unix.O_TRUNC
	}
	err := unix.DeleteModule(name, flags)
	why := ""
	switch {
	case err == nil:
		return nil
	case errors.Is(err, unix.EWOULDBLOCK), errors.Is(err, unix.EBUSY):
		why = " (in use)"
	case errors.Is(err, unix.ENOENT):
		why = " (not loaded)"
	case errors.Is(err, unix.EPERM):
		why = " (must be root with CAP_SYS_MODULE)"
	}
	return printf.Errorf("%s: %w%s", name, err, why)
}
