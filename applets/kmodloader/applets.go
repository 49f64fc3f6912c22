package kmodloader

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"

	"toybox-go/applets/internal/command"
	"toybox-go/applets/internal/getopt"
	"toybox-go/applets/internal/modinfo"
	"toybox-go/applets/printf"
)

// flags starts an applet's options. Kept out of line (go:noinline): an
// inlined copy at each applet costs more than a call.
//
//go:noinline
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
		s.fail("insmod", err)
		return 1
	}
	var m *modinfo.Module
	if isFileArg(arg) {
		m = modinfo.ReadModule(arg)
	} else {
		ix, err := s.openIndex(nil)
		if err != nil {
			s.fail("insmod", err)
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
	}
	if m.Err != nil && !errors.Is(m.Err, modinfo.ErrCompressed) {
		s.errorf("insmod", "cannot insert %v", m.Err) // the error names the file
		return 1
	}
	live := s.loadedSet()
	if live[m.Name] {
		s.errorf("insmod", "module is already loaded - %s", m.Name)
		return 1
	}
	if err := s.Insert(m.Path, params); err != nil {
		if _, ok := errors.AsType[*LoadError](err); ok {
			s.errorf("insmod", "cannot insert %v", err)
		} else {
			s.errorf("insmod", "cannot insert %s: %v", m.Path, err)
		}
		var missing []string
		for _, d := range m.Depends {
			if !live[d] {
				missing = addString(missing, d)
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
		s.fail("rmmod", err)
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
			s.fail("rmmod", err)
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

// modinfoShort are kmod's shorthands for -F (a variable, not a local: no
// code builds or copies it).
var modinfoShort = [...]struct{ flag, field string }{
	{"a", "author"}, {"d", "description"}, {"l", "license"}, {"n", "filename"}, {"p", "parm"},
}

// modinfo [-F field] NAME|FILE...
func (s *System) modinfo(args []string) int {
	fs := s.flags("modinfo", ModinfoUsage)
	field := fs.String("F", "")
	rel := fs.String("k", "")
	base := fs.String("b", "")
	var set [len(modinfoShort)]*bool
	for i := range modinfoShort {
		set[i] = fs.Bool(modinfoShort[i].flag)
	}
	if err := fs.Parse(args[1:]); err != nil {
		return 1
	}
	for i := range modinfoShort {
		if *set[i] {
			*field = modinfoShort[i].field
		}
	}
	if fs.NArg() < 1 {
		fs.Usage()
		return 1
	}
	s.applyRoot(*base, *rel)
	w := new(bytes.Buffer)
	var ix *modinfo.Index
	status := 0
	for _, arg := range fs.Args() {
		var mods []*modinfo.Module
		if isFileArg(arg) {
			m := modinfo.ReadModule(arg)
			m.Path, _ = filepath.Abs(arg)
			mods = append(mods, m)
		} else {
			if ix == nil {
				var err error
				if ix, err = s.openIndex(s.conf()); err != nil {
					s.fail("modinfo", err)
					s.flush(w)
					return 1
				}
			}
			if mods = ix.Lookup(arg); len(mods) == 0 {
				s.errorf("modinfo", "module %s not found in %s", arg, ix.Dir)
				status = 1
			}
		}
		for _, m := range mods {
			if m.Err != nil {
				s.fail("modinfo", m.Err)
				status = 1
				continue
			}
			fields := m.Fields
			if !m.Builtin {
				fields = withSignature(fields, m.Path)
			}
			printModinfo(w, m, fields, *field)
		}
	}
	s.flush(w)
	return status
}

// withSignature appends the fields of the module file's signature, as kmod's
// modinfo shows them, to its .modinfo fields. An unsigned module, or one
// whose trailer cannot be decoded, gets none (kmod is silent too).
func withSignature(fields []modinfo.Field, path string) []modinfo.Field {
	sig, err := modinfo.ReadSignature(path)
	if err != nil || sig == nil {
		return fields
	}
	return append(fields[:len(fields):len(fields)], sig.Fields()...)
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
	_               [0]func() // not comparable: no generated equality function
	name, desc, typ string
	hasDesc         bool
}

// printModinfo prints in kmod's layout: "key:" padded to 16 columns, filename
// first, parameters last (parm and parmtype merged, in kmod's order). fields
// are m's, and its signature's (m itself is the index's, left as it is).
func printModinfo(w io.Writer, m *modinfo.Module, fields []modinfo.Field, field string) {
	var params []*param // a list, not a map: a module has a few parameters
	for _, f := range fields {
		if f.Key != "parm" && f.Key != "parmtype" {
			continue
		}
		n, rest, _ := strings.Cut(f.Value, ":")
		var p *param
		for _, q := range params {
			if q.name == n {
				p = q
				break
			}
		}
		if p == nil {
			p = &param{name: n}
			params = append(params, p) // kmod lists them last seen first: printed from the end
		}
		if f.Key == "parm" {
			p.desc, p.hasDesc = rest, true
		} else {
			p.typ = rest
		}
	}
	filename := m.Path
	if m.Builtin {
		filename = "(builtin)"
	}
	if field != "" {
		switch field {
		case "filename":
			printf.Fprintln(w, filename)
		case "parm":
			for i := len(params) - 1; i >= 0; i-- {
				printf.Fprintln(w, params[i].text(true))
			}
		default:
			if field == "name" && m.Builtin {
				printf.Fprintln(w, m.Name)
			}
			for _, f := range fields {
				if f.Key == field {
					printf.Fprintln(w, f.Value)
				}
			}
		}
		return
	}
	if m.Builtin {
		modinfoLine(w, "name", m.Name)
	}
	modinfoLine(w, "filename", filename)
	for _, f := range fields {
		if f.Key != "parm" && f.Key != "parmtype" {
			modinfoLine(w, f.Key, f.Value)
		}
	}
	for i := len(params) - 1; i >= 0; i-- {
		modinfoLine(w, "parm", params[i].text(false))
	}
}

// modinfoLine prints one "key:" line, the value at column 17. Kept out of
// line (go:noinline): an inlined copy at each caller costs more than a call.
//
//go:noinline
func modinfoLine(w io.Writer, k, v string) { printf.Fprintf(w, "%-16s%s\n", k+":", v) }

// text is a parameter as kmod's modinfo shows it: "name:desc (type)",
// "name:desc" without a type; without a description, "name: (type)" for -F
// parm (only) and "name:type" in the full listing.
func (p *param) text(only bool) string {
	s := p.name + ":" + p.desc // desc is "" without a description
	if p.hasDesc && p.typ != "" || !p.hasDesc && only {
		return s + " (" + p.typ + ")"
	}
	return s + p.typ // typ is "" here when there is a description
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
	ignoreCmds := fs.Bool("i")
	fs.BoolVar(ignoreCmds, "ignore-install")
	fs.BoolVar(ignoreCmds, "ignore-remove")
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
	names, params := fs.Args()[:1], joinParams(fs.Args()[1:])
	if *all || *remove {
		names, params = fs.Args(), ""
	}
	if !*dry {
		if err := s.mayLoad(); err != nil {
			s.fail("modprobe", err)
			return 1
		}
	}
	conf := s.conf()
	ix, err := s.openIndex(conf)
	if err != nil {
		s.fail("modprobe", err)
		return 1
	}
	ix.DependsOnly = true // the files themselves go to the kernel
	ix.Commands = true    // `install cramfs /bin/false` with no cramfs module
	if *remove {
		return s.modprobeRemove(ix, conf, names, *verbose, *dry, *ignoreCmds)
	}
	live := s.loadedSet()
	if *showDeps {
		// kmod's --show-depends: the insmod lines of everything, loaded or not.
		*dry, *verbose, live = true, true, map[string]bool{}
	}
	l := newLoader(ix, conf, live)
	l.insert = s.insertModule
	l.install = func(m *modinfo.Module, cmd, opts string) error {
		return s.runCommand("install", m.Name, cmd, opts)
	}
	if !*showDeps {
		l.cpu = s.cpuModalias() // -D shows every soft dependency, as kmod
	}
	if *dry {
		l.insert = func(*modinfo.Module, string) error { return nil }
		l.install = func(*modinfo.Module, string, string) error { return nil }
	}
	if *verbose {
		// kmod's lines: the install command as written, then the options.
		l.verbose = func(m *modinfo.Module, cmd, opts string) {
			what, arg := "insmod", m.Path
			if cmd != "" {
				what, arg = "install", cmd
			}
			s.say(what + " " + arg + " " + opts)
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
					s.say("module " + m.Name + " is blacklisted")
				}
				continue
			case m.Builtin:
				if *showDeps && m.Name == modinfo.Normalize(name) {
					s.say("builtin " + m.Name)
				}
				continue
			case live[m.Name]:
				continue // nothing to do, and kmod says nothing
			}
			if j := l.want(m, params, false); j != nil && *ignoreCmds {
				j.cmd = "" // -i: the module itself, not its dependencies' commands (as kmod)
			}
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
// nothing else uses any more. A module with a modprobe.d remove command has
// the command run instead, loaded or not, and its dependencies stay (as kmod
// does), unless ignoreCmds.
func (s *System) modprobeRemove(ix *modinfo.Index, conf *modinfo.Conf, names []string, verbose, dry, ignoreCmds bool) int {
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
		if cmd, ok := conf.RemoveCommand(n); ok && !ignoreCmds {
			cmd = strings.ReplaceAll(cmd, "$CMDLINE_OPTS", "")
			if verbose {
				s.say("remove " + cmd)
			}
			if !dry {
				if err := s.runCommand("remove", n, cmd, ""); err != nil {
					s.fail("modprobe", err)
					status = 1
				}
			}
			continue
		}
		if m != nil && m.CommandOnly {
			m = nil
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
			s.fail("modprobe", err)
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
		s.say("rmmod " + name)
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

// runCommand runs a modprobe.d install or remove command with /bin/sh -c, as
// kmod does with system(3): $CMDLINE_OPTS replaced with opts, the module's
// name in $MODPROBE_MODULE, this process's input and output. A non-zero exit
// is an error.
func (s *System) runCommand(kind, module, cmd, opts string) error {
	cmd = strings.ReplaceAll(cmd, "$CMDLINE_OPTS", opts)
	c := command.Command("/bin/sh", "-c", cmd)
	c.Env = append(os.Environ(), "MODPROBE_MODULE="+module)
	c.Stdin, c.Stdout, c.Stderr = os.Stdin, s.Stdout, s.Stderr
	err := c.Run()
	if err == nil {
		return nil
	}
	if ee, ok := errors.AsType[*command.ExitError](err); ok {
		// "exit status N", or the signal that killed it.
		err = errors.New(ee.ProcessState.String())
	}
	return printf.Errorf("%s command '%s' for module %s: %w", kind, cmd, module, err)
}

// joinParams joins the command line's PARAM=VALUE words as kmod does:
// a value holding a blank, not already quoted, is quoted (x="a b"), so that the kernel, and a
// $CMDLINE_OPTS, keep it one parameter.
func joinParams(args []string) string {
	out := make([]string, 0, len(args))
	for _, a := range args {
		if k, v, ok := strings.Cut(a, "="); ok && strings.Contains(v, " ") && !strings.HasPrefix(v, `"`) && !strings.HasPrefix(v, "'") {
			a = k + "=\"" + v + "\""
		}
		out = addString(out, a)
	}
	return strings.Join(out, " ")
}
