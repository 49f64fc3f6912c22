package kmodloader

import (
	"bufio"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"

	"toybox-go/applets/internal/dirlist"
	"toybox-go/applets/internal/getopt"
	"toybox-go/applets/internal/kmsg"
	"toybox-go/applets/internal/modinfo"
)

// entry is one "module [params]" line of a modules.d file.
type entry struct {
	_            [0]func() // not comparable: no generated equality function
	Name, Params string
	Line         int
}

// parseModulesFile reads a modules.d file: one module per line, optional
// parameters after the first blank, # comments and blank lines skipped.
func parseModulesFile(r io.Reader) ([]entry, error) {
	var out []entry
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		name, params, _ := strings.Cut(strings.ReplaceAll(line, "\t", " "), " ")
		out = append(out, entry{Name: name, Params: strings.Join(strings.Fields(params), " "), Line: n})
	}
	return out, sc.Err()
}

// numbered reports whether a modules.d file loads at once: ubox's test is the
// first byte being at most '9' (digits, but also '-' or '.').
func numbered(file string) bool {
	b := filepath.Base(file)
	return b != "" && b[0] <= '9'
}

// boot is the loader mode: kmodloader [DIR].
func (s *System) boot(args []string) int {
	fs := getopt.New("kmodloader", Usage, s.Stderr)
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, getopt.ErrHelp) {
			return 0
		}
		return 1
	}
	if fs.NArg() > 1 {
		fs.Usage()
		return 1
	}
	dir := filepath.Join(s.Etc, "modules.d")
	if fs.NArg() == 1 {
		dir = fs.Arg(0)
	}
	log := s.Log
	if log == nil {
		log = kmsg.New("kmodloader")
	}
	if err := s.mayLoad(); err != nil {
		log.Errorf("%v", err)
		return 1
	}
	conf := s.conf()
	for _, p := range conf.Problems {
		log.Warnf("%s", p)
	}
	ix, err := s.openIndex(conf)
	if err != nil {
		log.Errorf("%v", err)
		return 255
	}
	ix.DependsOnly = true // the files themselves go to the kernel
	for _, p := range ix.Problems {
		log.Debugf("%s", p)
	}
	files, err := dirlist.Files(dir)
	if err != nil {
		log.Warnf("%v", err)
		return 0
	}
	log.Infof("loading kernel modules from %s", dir)
	l := newLoader(ix, conf, s.loadedSet())
	l.insert = s.insertModule
	l.logf = log.Log
	l.cpu = s.cpuModalias()
	for _, file := range files {
		f, err := os.Open(file)
		if err != nil {
			log.Warnf("%v", err)
			continue
		}
		entries, err := parseModulesFile(f)
		f.Close()
		if err != nil {
			log.Warnf("%s: %v", file, err)
		}
		for _, e := range entries {
			mods := ix.Lookup(e.Name)
			if len(mods) == 0 {
				log.Infof("%s:%d: no module %s (not in %s)", file, e.Line, e.Name, ix.Dir)
				continue
			}
			for _, m := range mods {
				if conf.Blacklist[m.Name] {
					log.Infof("%s:%d: %s is blacklisted", file, e.Line, m.Name)
					continue
				}
				if _, ok := conf.InstallCommand(m.Name); ok {
					// ubox reads no modprobe.d: loaded all the same.
					log.Infof("%s:%d: %s: modprobe.d install command not run by the boot loader", file, e.Line, m.Name)
				}
				l.want(m, e.Params, false)
			}
			if numbered(file) {
				l.settle(false)
			}
		}
	}
	l.settle(true)
	if left := l.leftovers(); len(left) > 0 {
		log.Errorf("%d module(s) could not be probed", len(left))
		for _, x := range left {
			log.Errorf("- %s", x)
		}
	} else {
		log.Infof("done loading kernel modules from %s", dir)
	}
	return 0
}

// insertModule loads one indexed module through s.Insert, refusing files whose
// .modinfo could not be read (truncated, not ELF) with that reason.
func (s *System) insertModule(m *modinfo.Module, params string) error {
	if m.CommandOnly {
		return errors.New("no module " + m.Name + ": only a modprobe.d install or remove line names it")
	}
	if m.Err != nil && !errors.Is(m.Err, modinfo.ErrCompressed) {
		return m.Err
	}
	return s.Insert(m.Path, params)
}
