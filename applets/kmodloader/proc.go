package kmodloader

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"toybox-go/applets/internal/modinfo"
	"toybox-go/applets/printf"
)

// procModule is one line of /proc/modules:
// "name size refcount holders, state address".
type procModule struct {
	Name    string
	Size    string
	Refs    string // "-" without CONFIG_MODULE_UNLOAD
	Holders []string
	// (the state and address columns are not kept: nothing reads them)
}

// parseProcModules reads /proc/modules lines; malformed ones are skipped.
func parseProcModules(r io.Reader) []procModule {
	var out []procModule
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 3 {
			continue
		}
		m := procModule{Name: f[0], Size: f[1], Refs: f[2]}
		if len(f) > 3 && f[3] != "-" {
			for _, h := range strings.Split(f[3], ",") {
				if h != "" {
					m.Holders = addString(m.Holders, h)
				}
			}
		}
		out = append(out, m)
	}
	return out
}

func (s *System) procModules() ([]procModule, error) {
	f, err := os.Open(filepath.Join(s.Proc, "modules"))
	if err != nil {
		return nil, err
	}
	mods := parseProcModules(f)
	f.Close()
	return mods, nil
}

// loadedSet is the set of loaded module names (normalised). A missing
// /proc/modules (no CONFIG_MODULES) is an empty set.
func (s *System) loadedSet() map[string]bool {
	mods, _ := s.procModules()
	set := map[string]bool{}
	for _, m := range mods {
		set[modinfo.Normalize(m.Name)] = true
	}
	return set
}

// lsmod prints /proc/modules in lsmod's columns, most recently loaded first
// (the kernel's order), as kmod's lsmod does.
func (s *System) lsmod(args []string) int {
	if len(args) > 1 {
		printf.Fprintln(s.Stderr, LsmodUsage)
		return 1
	}
	mods, err := s.procModules()
	if err != nil {
		s.errorf("lsmod", "%v (a kernel without module support?)", err)
		return 1
	}
	w := new(bytes.Buffer)
	printf.Fprintln(w, "Module                  Size  Used by")
	for _, m := range mods {
		holders := ""
		if len(m.Holders) > 0 {
			holders = " " + strings.Join(m.Holders, ",")
		}
		printf.Fprintf(w, "%-19s %8s  %s%s\n", m.Name, m.Size, m.Refs, holders)
	}
	if err := s.flush(w); err != nil {
		return 1
	}
	return 0
}

// flush writes what an applet gathered to its standard output (in one
// write, where stdio would flush every 4 KiB).
// Kept out of line (go:noinline): inlined at each caller it costs more
// than a call.
//
//go:noinline
func (s *System) flush(b *bytes.Buffer) error {
	_, err := s.Stdout.Write(b.Bytes())
	return err
}

// capSysModule is the capability bit that init_module and delete_module check.
const capSysModule = 16

// mayLoad says why this process cannot load or unload modules (no
// CAP_SYS_MODULE in its effective set: not root), or nil. When the status file
// is unreadable (a fake tree) it lets the kernel decide.
func (s *System) mayLoad() error {
	data, err := os.ReadFile(filepath.Join(s.Proc, "self", "status"))
	if err != nil {
		return nil
	}
	for _, line := range strings.Split(string(data), "\n") {
		hex, ok := strings.CutPrefix(line, "CapEff:")
		if !ok {
			continue
		}
		caps, err := strconv.ParseUint(strings.TrimSpace(hex), 16, 64)
		if err != nil || caps&(1<<capSysModule) != 0 {
			return nil
		}
		return errors.New("not permitted: loading and unloading modules needs root (CAP_SYS_MODULE)")
	}
	return nil
}
