package kmodloader

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"toybox-go/applets/internal/getopt"
	"toybox-go/applets/internal/modinfo"
)

func (s *System) flags(name, usage string) *getopt.Set {
	return getopt.New(name, usage, s.Stderr)
}

// insmod FILE|NAME [params]: no dependencies, as insmod(8).
func (s *System) insmod(args []string) int {
	fs := s.flags("insmod", InsmodUsage)
	if err := fs.Parse(args[1:]); err != nil {
		return 1
	}
	if fs.NArg() < 1 {
		fs.Usage()
		return 1
	}
	arg, params := fs.Arg(0), strings.Join(fs.Args()[1:], " ")
	if err := s.mayLoad(); err != nil {
		s.errorf("insmod", "%v", err)
		return 1
	}
	var m *modinfo.Module
	if isFileArg(arg) {
		fields, _, err := modinfo.ReadFile(arg)
		if err != nil && !errors.Is(err, modinfo.ErrCompressed) {
			s.errorf("insmod", "cannot insert %v", err) // err names the file
			return 1
		}
		m = &modinfo.Module{Name: modinfo.Normalize(filepath.Base(arg)), Path: arg, Fields: fields}
		if n := m.Values("name"); len(n) > 0 && n[0] != "" {
			m.Name = modinfo.Normalize(n[0])
		}
		for _, d := range m.Values("depends") {
			for _, x := range strings.Split(d, ",") {
				if x != "" {
					m.Depends = append(m.Depends, modinfo.Normalize(x))
				}
			}
		}
	} else {
		ix, err := s.openIndex(nil)
		if err != nil {
			s.errorf("insmod", "%v", err)
			return 1
		}
		if m = ix.Get(arg); m == nil {
			s.errorf("insmod", "cannot find module %s in %s", arg, ix.Dir)
			return 1
		}
		if m.Builtin {
			s.errorf("insmod", "module %s is built into the kernel", m.Name)
			return 1
		}
		if m.Err != nil && !errors.Is(m.Err, modinfo.ErrCompressed) {
			s.errorf("insmod", "cannot insert %v", m.Err)
			return 1
		}
	}
	live := s.loadedSet()
	if live[m.Name] {
		s.errorf("insmod", "module is already loaded - %s", m.Name)
		return 1
	}
	if err := s.Insert(m.Path, params); err != nil {
		var le *LoadError
		if errors.As(err, &le) {
			s.errorf("insmod", "cannot insert %v", err)
		} else {
			s.errorf("insmod", "cannot insert %s: %v", m.Path, err)
		}
		var missing []string
		for _, d := range m.Depends {
			if !live[d] {
				missing = append(missing, d)
			}
		}
		if len(missing) > 0 {
			s.errorf("insmod", "%s needs %s, not loaded (modprobe loads dependencies)", m.Name, strings.Join(missing, ", "))
		}
		return 1
	}
	return 0
}

// rmmod [-f] NAME...
func (s *System) rmmod(args []string) int {
	fs := s.flags("rmmod", RmmodUsage)
	force := fs.Bool("f")
	if err := fs.Parse(args[1:]); err != nil {
		return 1
	}
	if fs.NArg() < 1 {
		fs.Usage()
		return 1
	}
	if err := s.mayLoad(); err != nil {
		s.errorf("rmmod", "%v", err)
		return 1
	}
	live := s.loadedSet()
	status := 0
	for _, arg := range fs.Args() {
		name := modinfo.Normalize(filepath.Base(arg))
		if !live[name] {
			if s.isBuiltin(name) {
				s.errorf("rmmod", "module %s is built into the kernel", name)
			} else {
				s.errorf("rmmod", "module %s is not loaded", name)
			}
			status = 1
			continue
		}
		if err := s.Remove(name, *force); err != nil {
			s.errorf("rmmod", "%v", err)
			status = 1
		}
	}
	return status
}

func (s *System) isBuiltin(name string) bool {
	ix, err := s.openIndex(nil)
	if err != nil {
		return false
	}
	m := ix.Get(name)
	return m != nil && m.Builtin
}

// modinfo [-F field] NAME|FILE...
func (s *System) modinfo(args []string) int {
	fs := s.flags("modinfo", ModinfoUsage)
	field := fs.String("F", "")
	rel := fs.String("k", "")
	base := fs.String("b", "")
	// kmod's shorthands for -F.
	short := map[string]*bool{}
	for flagName, f := range map[string]string{"a": "author", "d": "description", "l": "license", "n": "filename", "p": "parm"} {
		short[f] = fs.Bool(flagName)
	}
	if err := fs.Parse(args[1:]); err != nil {
		return 1
	}
	for f, set := range short {
		if *set {
			*field = f
		}
	}
	if fs.NArg() < 1 {
		fs.Usage()
		return 1
	}
	s.applyRoot(*base, *rel)
	w := bufio.NewWriter(s.Stdout)
	defer w.Flush()
	var ix *modinfo.Index
	status := 0
	for _, arg := range fs.Args() {
		if isFileArg(arg) {
			fields, _, err := modinfo.ReadFile(arg)
			if err != nil {
				s.errorf("modinfo", "%v", err)
				status = 1
				continue
			}
			abs, _ := filepath.Abs(arg)
			printModinfo(w, &modinfo.Module{Path: abs, Fields: fields}, *field)
			continue
		}
		if ix == nil {
			var err error
			if ix, err = s.openIndex(s.conf()); err != nil {
				s.errorf("modinfo", "%v", err)
				return 1
			}
		}
		mods := ix.Lookup(arg)
		if len(mods) == 0 {
			s.errorf("modinfo", "module %s not found in %s", arg, ix.Dir)
			status = 1
		}
		for _, m := range mods {
			if m.Err != nil {
				s.errorf("modinfo", "%v", m.Err)
				status = 1
				continue
			}
			printModinfo(w, m, *field)
		}
	}
	return status
}

// applyRoot applies kmod's -b/-d BASEDIR and -k/-S RELEASE.
func (s *System) applyRoot(base, rel string) {
	if base != "" {
		s.ModulesRoot = filepath.Join(base, "lib", "modules")
	}
	if rel != "" {
		s.Release = rel
	}
}

type param struct {
	name, desc, typ string
	hasDesc         bool
}

// printModinfo prints in kmod's layout: "key:" padded to 16 columns, filename
// first, parameters last (parm and parmtype merged, in kmod's order).
func printModinfo(w io.Writer, m *modinfo.Module, field string) {
	var params []*param
	byName := map[string]*param{}
	get := func(v string) (*param, string) {
		n, rest, _ := strings.Cut(v, ":")
		p := byName[n]
		if p == nil {
			p = &param{name: n}
			byName[n] = p
			params = append([]*param{p}, params...) // kmod lists them last seen first
		}
		return p, rest
	}
	for _, f := range m.Fields {
		switch f.Key {
		case "parm":
			p, rest := get(f.Value)
			p.desc, p.hasDesc = rest, true
		case "parmtype":
			p, rest := get(f.Value)
			p.typ = rest
		}
	}
	filename := m.Path
	if m.Builtin {
		filename = "(builtin)"
	}
	line := func(k, v string) { fmt.Fprintf(w, "%-16s%s\n", k+":", v) }
	if field != "" {
		switch field {
		case "filename":
			fmt.Fprintln(w, filename)
		case "parm":
			for _, p := range params {
				switch {
				case p.hasDesc && p.typ != "":
					fmt.Fprintf(w, "%s:%s (%s)\n", p.name, p.desc, p.typ)
				case p.hasDesc:
					fmt.Fprintf(w, "%s:%s\n", p.name, p.desc)
				default:
					fmt.Fprintf(w, "%s: (%s)\n", p.name, p.typ)
				}
			}
		default:
			if field == "name" && m.Builtin {
				fmt.Fprintln(w, m.Name)
			}
			for _, v := range m.Values(field) {
				fmt.Fprintln(w, v)
			}
		}
		return
	}
	if m.Builtin {
		line("name", m.Name)
	}
	line("filename", filename)
	for _, f := range m.Fields {
		if f.Key != "parm" && f.Key != "parmtype" {
			line(f.Key, f.Value)
		}
	}
	for _, p := range params {
		switch {
		case p.hasDesc && p.typ != "":
			line("parm", fmt.Sprintf("%s:%s (%s)", p.name, p.desc, p.typ))
		case p.hasDesc:
			line("parm", p.name+":"+p.desc)
		default:
			line("parm", p.name+":"+p.typ)
		}
	}
}

// modprobe [-arqvn] NAME|ALIAS [params]
func (s *System) modprobe(args []string) int {
	fs := s.flags("modprobe", ModprobeUsage)
	all := fs.Bool("a")
	remove := fs.Bool("r")
	quiet := fs.Bool("q")
	verbose := fs.Bool("v")
	dry := fs.Bool("n")
	showDeps := fs.Bool("D")
	fs.BoolVar(showDeps, "show-depends")
	base := fs.String("d", "")
	rel := fs.String("S", "")
	if err := fs.Parse(args[1:]); err != nil {
		return 1
	}
	if fs.NArg() < 1 {
		fs.Usage()
		return 1
	}
	s.applyRoot(*base, *rel)
	names, params := fs.Args()[:1], strings.Join(fs.Args()[1:], " ")
	if *all || *remove {
		names, params = fs.Args(), ""
	}
	if !*dry {
		if err := s.mayLoad(); err != nil {
			s.errorf("modprobe", "%v", err)
			return 1
		}
	}
	conf := s.conf()
	ix, err := s.openIndex(conf)
	if err != nil {
		s.errorf("modprobe", "%v", err)
		return 1
	}
	ix.DependsOnly = true // the files themselves go to the kernel
	if *remove {
		return s.modprobeRemove(ix, names, *verbose, *dry)
	}
	live := s.loadedSet()
	if *showDeps {
		// kmod's --show-depends: the insmod lines of everything, loaded or not.
		*dry, *verbose, live = true, true, map[string]bool{}
	}
	l := newLoader(ix, conf, live)
	l.insert = s.insertModule
	if !*showDeps {
		l.cpu = s.cpuModalias() // -D shows every soft dependency, as kmod
	}
	if *dry {
		l.insert = func(*modinfo.Module, string) error { return nil }
	}
	if *verbose || *dry {
		l.verbose = func(m *modinfo.Module, params string) {
			if *verbose {
				fmt.Fprintf(s.Stdout, "insmod %s %s\n", m.Path, params)
			}
		}
	}
	status := 0
	for _, name := range names {
		mods := ix.Lookup(name)
		if len(mods) == 0 {
			if !*quiet {
				s.errorf("modprobe", "module %s not found in %s", name, ix.Dir)
			}
			status = 1
			continue
		}
		for _, m := range mods {
			switch {
			case conf.Blacklist[m.Name]:
				if *verbose {
					fmt.Fprintf(s.Stdout, "module %s is blacklisted\n", m.Name)
				}
				continue
			case m.Builtin:
				if *showDeps && m.Name == modinfo.Normalize(name) {
					fmt.Fprintf(s.Stdout, "builtin %s\n", m.Name)
				}
				continue
			case live[m.Name]:
				continue // nothing to do, and kmod says nothing
			}
			l.want(m, params, false)
		}
	}
	l.settle(true)
	if left := l.leftovers(); len(left) > 0 {
		for _, x := range left {
			s.errorf("modprobe", "could not load %s", x)
		}
		status = 1
	}
	return status
}

// modprobeRemove unloads each module, then the dependencies it held that
// nothing else uses any more.
func (s *System) modprobeRemove(ix *modinfo.Index, names []string, verbose, dry bool) int {
	status := 0
	for _, name := range names {
		m := ix.Get(name)
		if m == nil {
			if mods := ix.Lookup(name); len(mods) > 0 {
				m = mods[0]
			}
		}
		n := modinfo.Normalize(name)
		if m != nil {
			n = m.Name
		}
		if m != nil && m.Builtin {
			s.errorf("modprobe", "module %s is built into the kernel", n)
			status = 1
			continue
		}
		if !s.loadedSet()[n] {
			s.errorf("modprobe", "module %s is not loaded", n)
			status = 1
			continue
		}
		if err := s.removeOne(n, verbose, dry); err != nil {
			s.errorf("modprobe", "%v", err)
			status = 1
			continue
		}
		if m != nil {
			s.removeUnused(ix, m.Depends, verbose, dry)
		}
	}
	return status
}

func (s *System) removeOne(name string, verbose, dry bool) error {
	if verbose {
		fmt.Fprintf(s.Stdout, "rmmod %s\n", name)
	}
	if dry {
		return nil
	}
	return s.Remove(name, false)
}

// removeUnused unloads the given modules that are loaded with no user left,
// then their own dependencies, depth first.
func (s *System) removeUnused(ix *modinfo.Index, deps []string, verbose, dry bool) {
	for _, d := range deps {
		mods, err := s.procModules()
		if err != nil {
			return
		}
		for _, pm := range mods {
			if modinfo.Normalize(pm.Name) != d || pm.Refs != "0" || len(pm.Holders) > 0 {
				continue
			}
			if s.removeOne(d, verbose, dry) == nil {
				if dm := ix.Get(d); dm != nil {
					s.removeUnused(ix, dm.Depends, verbose, dry)
				}
			}
		}
	}
}
