package kmodloader

import (
	"errors"
	"strings"

	"golang.org/x/sys/unix"

	"toybox-go/applets/internal/kmsg"
	"toybox-go/applets/internal/modinfo"
)

type jobState int

const (
	pending jobState = iota
	loaded
	failed
)

// job is one module the loader wants in the kernel.
type job struct {
	m        *modinfo.Module
	params   string
	extra    string // the user's parameters (params holds the options lines too)
	cmd      string // modprobe.d install command to run instead of loading
	soft     bool   // wanted only as a soft dependency: its failure is no error
	state    jobState
	err      error
	failedAt int      // loader.loads when it failed: retried only after more loads
	missing  []string // hard dependencies the index does not know
	waitFor  []*job   // soft dependencies to settle first (pre:, or the module of a post:)
	building bool     // want() is still resolving it (cycle guard)
}

// loader resolves and loads modules: dependencies first, soft dependencies
// around them, each module at most once, failures recorded with their reason.
type loader struct {
	ix     *modinfo.Index
	conf   *modinfo.Conf
	live   map[string]bool // loaded or built-in
	jobs   map[string]*job // by module name
	order  []*job          // dependencies before their users
	loads  int
	insert func(m *modinfo.Module, params string) error
	// install, when set, makes modprobe.d install commands apply (modprobe:
	// the boot loader ignores them, as ubox does): it runs a module's
	// command, $CMDLINE_OPTS replaced with opts, instead of insert.
	install func(m *modinfo.Module, cmd, opts string) error
	// logf reports a load failure (prio is kmsg.Err or kmsg.Warn).
	logf func(prio int, format string, args ...any)
	// verbose, when set, is told each module before it loads: cmd is its
	// install command or "", opts its options as kmod shows them.
	verbose func(m *modinfo.Module, cmd, opts string)
	// cpu is this CPU's modalias (/sys/devices/system/cpu/modalias), or ""
	// to try every soft dependency.
	cpu string
}

func newLoader(ix *modinfo.Index, conf *modinfo.Conf, live map[string]bool) *loader {
	if conf == nil {
		conf = new(modinfo.Conf) // only read: nil maps read as empty ones
	}
	return &loader{ix: ix, conf: conf, live: live, jobs: map[string]*job{},
		logf: func(int, string, ...any) {}}
}

// want adds m (and what it needs) to the jobs; params are appended to
// modules.conf's options. It returns nil when there is nothing to do.
func (l *loader) want(m *modinfo.Module, params string, soft bool) *job {
	if m.Builtin || l.live[m.Name] {
		return nil
	}
	if j := l.jobs[m.Name]; j != nil {
		j.params = joinWords(j.params, params)
		j.extra = joinWords(j.extra, params)
		if !soft {
			l.harden(j)
		}
		return j
	}
	j := &job{m: m, params: joinWords(l.conf.Options[m.Name], params), extra: strings.TrimSpace(params), soft: soft, building: true}
	l.jobs[m.Name] = j // before recursing: a dependency cycle ends here
	// kmod's order: dependencies (each with its own soft dependencies), then
	// the module's pre: soft dependencies, the module, its post: ones.
	for _, d := range m.Depends {
		dm := l.ix.Get(d)
		if dm == nil {
			j.missing = addString(j.missing, d)
			continue
		}
		l.want(dm, "", soft)
	}
	pre, post := l.ix.Soft(m)
	if l.install != nil {
		j.cmd = l.installCommand(m, pre, post)
	}
	for _, s := range pre {
		for _, pj := range l.wantSoft(s) {
			if !pj.building { // a soft dependency cycle: do not wait on it
				j.waitFor = addJob(j.waitFor, pj)
			}
		}
	}
	l.order = addJob(l.order, j)
	for _, s := range post {
		for _, pj := range l.wantSoft(s) {
			if !pj.building {
				pj.waitFor = addJob(pj.waitFor, j)
			}
		}
	}
	j.building = false
	return j
}

// installCommand is m's install command, unless m has soft dependencies
// that name modules: kmod lets softdep take precedence over install.
func (l *loader) installCommand(m *modinfo.Module, pre, post []string) string {
	cmd, ok := l.conf.InstallCommand(m.Name)
	if !ok {
		return ""
	}
	for _, list := range [...][]string{pre, post} {
		for _, s := range list {
			if len(l.ix.Lookup(s)) > 0 {
				return ""
			}
		}
	}
	return cmd
}

// opts are a job's options as kmod puts them together for -v and for
// $CMDLINE_OPTS: the options lines, a blank, the user's parameters.
func (l *loader) opts(j *job) string {
	if o := l.conf.Options[j.m.Name]; o != "" {
		return o + " " + j.extra
	}
	return j.extra
}

// harden marks j and its hard dependencies as really wanted.
func (l *loader) harden(j *job) {
	if !j.soft {
		return
	}
	j.soft = false
	for _, d := range j.m.Depends {
		if dj := l.jobs[d]; dj != nil {
			l.harden(dj)
		}
	}
}

// wantSoft adds the modules behind a soft dependency (a name or an alias, such
// as "crypto-crc32c"): every one that is not built in or loaded, as kmod does,
// so that an optimised implementation (crc32c_intel) joins a built-in generic
// one. Their failures are warnings.
func (l *loader) wantSoft(name string) []*job {
	mods := l.ix.Lookup(name)
	var out []*job
	for _, m := range mods {
		if l.conf.Blacklist[m.Name] && len(mods) > 1 {
			continue
		}
		if !l.live[m.Name] && l.cpuLacks(m) {
			l.logf(kmsg.Info, "%s not loaded (soft dependency %s): it drives CPU features this CPU lacks", m.Name, name)
			continue
		}
		if j := l.want(m, "", true); j != nil {
			out = addJob(out, j)
		}
	}
	return out
}

// cpuLacks reports whether m drives CPU features (it has cpu: aliases, from
// MODULE_DEVICE_TABLE(x86cpu) and the like) of which this CPU has none: its
// init would only fail with ENODEV, as crc32c_intel does on a CPU without
// SSE4.2, after the kernel has done all the work of loading it. Soft
// dependencies are optional, so such a one is skipped.
func (l *loader) cpuLacks(m *modinfo.Module) bool {
	if l.cpu == "" || m.Builtin {
		return false
	}
	driver := false
	for _, a := range m.Aliases {
		if strings.HasPrefix(a, "cpu:") {
			if modinfo.Match(a, l.cpu) {
				return false
			}
			driver = true
		}
	}
	return driver
}

func (l *loader) ready(j *job) bool {
	if len(j.missing) > 0 {
		return false
	}
	for _, d := range j.m.Depends {
		if !l.live[d] && !l.builtin(d) {
			return false
		}
	}
	for _, w := range j.waitFor {
		if w.state == pending {
			return false
		}
	}
	return true
}

func (l *loader) builtin(name string) bool {
	m := l.ix.Get(name)
	return m != nil && m.Builtin
}

// permanent errors are not worth a retry: another module loading cannot change
// them.
func permanent(err error) bool {
	errno, ok := errors.AsType[unix.Errno](err)
	if !ok {
		return false
	}
	switch errno {
	case unix.ENODEV, unix.EINVAL, unix.ENOEXEC, unix.EPERM, unix.EOPNOTSUPP, unix.EKEYREJECTED:
		return true
	}
	return false
}

// settle loads every pending job whose dependencies are in, pass after pass,
// while passes make progress. With retry, a module that failed is tried again
// once other modules have loaded since its failure (a symbol it lacked may have
// arrived), unless its error is permanent.
func (l *loader) settle(retry bool) {
	for {
		progress := 0
		for _, j := range l.order {
			switch j.state {
			case loaded:
				continue
			case failed:
				if !retry || l.loads <= j.failedAt || permanent(j.err) {
					continue
				}
			}
			if !l.ready(j) {
				continue
			}
			opts := l.opts(j)
			if l.verbose != nil {
				l.verbose(j.m, j.cmd, opts)
			}
			var err error
			if j.cmd != "" {
				err = l.install(j.m, j.cmd, opts)
			} else {
				err = l.insert(j.m, j.params)
			}
			if err != nil {
				j.state, j.err, j.failedAt = failed, err, l.loads
				prio := kmsg.Err
				if j.soft {
					prio = kmsg.Warn
				}
				l.logf(prio, "failed to load %s: %v", j.m.Name, err)
				continue
			}
			j.state, j.err = loaded, nil
			l.live[j.m.Name] = true
			l.loads++
			progress++
		}
		if progress == 0 {
			return
		}
	}
}

// leftovers describes the wanted (not soft) modules that are not loaded, one
// line each: "name: reason".
func (l *loader) leftovers() []string {
	var out []string
	for _, j := range l.order {
		if j.state == loaded || j.soft {
			continue
		}
		why := "" // ", reason" each
		if j.err != nil {
			why = ", " + j.err.Error()
		}
		for _, d := range j.missing {
			why += ", missing dependency " + d
		}
		for _, d := range j.m.Depends {
			if !l.live[d] && !l.builtin(d) && l.ix.Get(d) != nil {
				why += ", dependency not loaded " + d
			}
		}
		if why == "" {
			why = ", not loaded"
		}
		out = addString(out, j.m.Name+": "+why[2:])
	}
	return out
}

// addJob and addString are append(s, v), kept out of line (go:noinline):
// an inlined append (its growth path, its write barriers) at each of their
// call sites costs more than a call.
//
//go:noinline
func addJob(s []*job, v *job) []*job { return append(s, v) }

//go:noinline
func addString(s []string, v string) []string { return append(s, v) }

func joinWords(a, b string) string {
	a, b = strings.TrimSpace(a), strings.TrimSpace(b)
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + " " + b
}
