package modinfo

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"

	"golang.org/x/sys/unix"

	"toybox-go/applets/internal/elfsect"
	"toybox-go/applets/printf"
)

// Module is one module of the index: a file, or a built-in.
type Module struct {
	Name    string // kernel spelling (`_`), as /proc/modules shows it
	Path    string // file; "" for a built-in or a command-only name
	Builtin bool
	// CommandOnly: no module file or built-in has this name; only an
	// install or remove line of the configuration does (Index.Commands).
	CommandOnly bool

	// The following are valid once the Index has read the module (Index.Get,
	// Index.Lookup and Index.ScanAll do).
	Fields   []Field         // .modinfo in section order (built-ins: modules.builtin.modinfo)
	Machine  elfsect.Machine // ELF machine of the file
	Err      error           // why .modinfo could not be read, if it could not
	Depends  []string        // hard dependencies (normalised names)
	SoftPre  []string        // softdep pre: names or aliases
	SoftPost []string        // softdep post: names or aliases
	Aliases  []string

	read   bool
	depmod bool // Depends/aliases/softdeps came from depmod's files
}

// Field values by key, in order.
// Kept out of line (go:noinline): inlined at each caller it costs more
// than a call.
//
//go:noinline
func (m *Module) Values(key string) []string {
	var out []string
	for _, f := range m.Fields {
		if f.Key == key {
			out = addString(out, f.Value)
		}
	}
	return out
}

// Vermagic returns the module's vermagic string or "".
func (m *Module) Vermagic() string {
	if v := m.Values("vermagic"); len(v) > 0 {
		return v[0]
	}
	return ""
}

// Index holds the modules of one release directory. Module files are found by
// walking the directory once; their .modinfo is read lazily (a loader that wants
// twenty modules reads twenty files), or all at once, in parallel, when an alias
// has to be resolved without depmod's modules.alias.
type Index struct {
	Dir  string // /lib/modules/RELEASE
	Conf *Conf  // modules.conf / modprobe.d; may be nil
	// Workers is the number of parallel .modinfo readers of ScanAll; 0 means
	// GOMAXPROCS.
	Workers int
	// DependsOnly: when depmod's files give the dependencies, Get and Lookup
	// leave the module files unread (Fields, Machine and Err stay empty), as
	// kmod's modprobe does: a loader needs no more, and a damaged file is
	// still refused, by the kernel.
	DependsOnly bool
	// Commands: Lookup also knows the names that only an install or remove
	// line of Conf gives (kmod's modprobe runs the command for them: `install
	// cramfs /bin/false` with no cramfs module), after module names and
	// before module aliases, in kmod's order.
	Commands bool
	// Problems holds non-fatal findings (unreadable directory, stale
	// modules.dep, bad lines), one message each.
	Problems []string

	mu          sync.Mutex
	mods        map[string]*Module
	aliasExact  map[string][]string // normalised alias -> module names
	aliasGlob   []aliasEntry
	aliasesDone bool
	depmod      bool
}

type aliasEntry struct {
	_               [0]func() // not comparable: no generated equality function
	pattern, module string
}

// problem records a non-fatal finding. Kept out of line (go:noinline): an
// inlined copy at each of its callers costs more than a call.
//
//go:noinline
func (ix *Index) problem(err error) { ix.Problems = addString(ix.Problems, err.Error()) }

// addString is append(s, v), kept out of line (go:noinline): some twenty
// call sites append a string, and an inlined append (its growth path, its
// write barriers) costs more than a call.
//
//go:noinline
func addString(s []string, v string) []string { return append(s, v) }

// Depmod reports whether dependencies come from a fresh modules.dep.
func (ix *Index) Depmod() bool { return ix.depmod }

// moduleSuffix reports whether a file name is a module.
func moduleSuffix(name string) bool {
	return strings.HasSuffix(name, ".ko") || Compressed(name) != ""
}

// Open indexes dir: OpenWrt's flat layout (dir/*.ko) and a distribution's
// nested one (dir/kernel/..., dir/updates/...) alike. conf may be nil.
func Open(dir string, conf *Conf) (*Index, error) {
	return OpenAll([]string{dir}, conf)
}

// OpenAll indexes several module folders, as ubox does with
// $LD_LIBRARY_PATH/modules/RELEASE before /lib/modules/RELEASE (extroot loads
// modules from an overlay that way): a module's first folder wins. Folders
// that do not exist are skipped; none existing is an error. depmod's files are
// only used when there is one folder.
func OpenAll(dirs []string, conf *Conf) (*Index, error) {
	var found []string
	var firstErr error
	for _, d := range dirs {
		if st, err := os.Stat(d); err == nil && st.IsDir() {
			found = addString(found, d)
		} else if firstErr == nil {
			firstErr = err
			if err == nil {
				firstErr = errors.New(d + ": not a directory")
			}
		}
	}
	if len(found) == 0 {
		return nil, printf.Errorf("module folder: %w", firstErr)
	}
	ix := &Index{Dir: found[0], Conf: conf, mods: map[string]*Module{}, aliasExact: map[string][]string{}}
	// depmod's files describe one folder: only then is modules.dep read, if
	// it is not older than the newest module.
	depPath := filepath.Join(ix.Dir, "modules.dep")
	var dep unix.Stat_t
	haveDep := len(found) == 1 && unix.Stat(depPath, &dep) == nil
	w := walker{ix: ix, stamp: haveDep}
	for _, d := range found {
		w.walk(filepath.Clean(d), "", false)
	}
	if haveDep {
		if !later(w.newest, dep.Mtim) {
			if err := ix.loadDepmod(); err != nil {
				ix.problem(err)
			}
		} else {
			ix.problem(errors.New(depPath + ": older than the modules, reading .modinfo instead"))
		}
	}
	for _, d := range found {
		ix.loadBuiltins(d)
	}
	return ix, nil
}

// walker finds the module files below the release directory, following
// symlinked directories (a tree assembled from links) but entering each real
// directory once, so that a symlink loop ends.
type walker struct {
	ix     *Index
	stamp  bool // track the newest module mtime (for modules.dep freshness)
	newest unix.Timespec
	// seen holds the (device, inode) of the directories entered: a list
	// (a few hundred in a distribution's tree, one on OpenWrt) searched
	// linearly, since a map of this key type is 700 bytes of binary.
	seen [][2]uint64
	buf  []byte // getdents buffer
}

// walk reads one directory with getdents(2) on a descriptor of its own (the
// same work as os.ReadDir, in fewer system calls: it is most of an index
// build). quiet drops the errors of a symlink that is no directory.
func (w *walker) walk(path, rel string, quiet bool) {
	fd, err := OpenFile(path, unix.O_DIRECTORY)
	if err != nil {
		if !quiet {
			w.ix.problem(err)
		}
		return
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		w.ix.problem(&fs.PathError{Op: "stat", Path: path, Err: err})
		unix.Close(fd)
		return
	}
	key := [2]uint64{uint64(st.Dev), uint64(st.Ino)}
	for _, k := range w.seen {
		if k == key {
			unix.Close(fd)
			return
		}
	}
	w.seen = append(w.seen, key)
	if w.buf == nil {
		w.buf = make([]byte, 8192)
	}
	ents, err := readDirents(fd, w.buf)
	if err != nil {
		w.ix.problem(&fs.PathError{Op: "readdirent", Path: path, Err: err})
		unix.Close(fd)
		return
	}
	for _, e := range ents {
		typ := e.typ
		if typ == unix.DT_UNKNOWN {
			var lst unix.Stat_t
			if unix.Fstatat(fd, e.name, &lst, unix.AT_SYMLINK_NOFOLLOW) == nil {
				typ = dtype(lst.Mode)
			}
		}
		p, r := joinName(path, e.name), joinName(rel, e.name)
		if moduleSuffix(e.name) && typ != unix.DT_DIR {
			w.add(fd, p, r, e.name)
			continue
		}
		switch {
		case typ == unix.DT_DIR:
			w.walk(p, r, false)
		case typ == unix.DT_LNK && !(rel == "" && (e.name == "build" || e.name == "source")):
			// Debian's build/ and source/ point at kernel headers: no modules.
			w.walk(p, r, true)
		}
	}
	unix.Close(fd)
}

// joinName is filepath.Join(dir, name) for a clean dir and a plain name,
// without cleaning again.
// Kept out of line (go:noinline): inlined at each caller it costs more
// than a call.
//
//go:noinline
func joinName(dir, name string) string {
	switch dir {
	case "", ".":
		return name
	case "/":
		return "/" + name
	}
	return dir + "/" + name
}

func dtype(mode uint32) uint8 {
	switch mode & unix.S_IFMT {
	case unix.S_IFDIR:
		return unix.DT_DIR
	case unix.S_IFLNK:
		return unix.DT_LNK
	case unix.S_IFREG:
		return unix.DT_REG
	}
	return unix.DT_UNKNOWN
}

type dirent struct {
	_    [0]func() // not comparable: no generated equality function
	name string
	typ  uint8
}

// readDirents returns a directory's entries but . and .., sorted by name.
func readDirents(fd int, buf []byte) ([]dirent, error) {
	var out []dirent
	for {
		n, err := unix.Getdents(fd, buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, err
		}
		if n <= 0 {
			break
		}
		out = parseDirents(buf[:n], out)
	}
	// Sorted as "name NUL type" strings: a name holds no NUL, so that is
	// the order of the names, and sort.Strings is in the binary anyway
	// (sort.Slice would bring reflection's swapper and a sort of its own).
	keys := make([]string, len(out))
	for i, e := range out {
		keys[i] = string(append(append([]byte(e.name), 0), e.typ))
	}
	sort.Strings(keys)
	for i, k := range keys {
		out[i] = dirent{name: k[:len(k)-2], typ: k[len(k)-1]}
	}
	return out, nil
}

// parseDirents appends the linux_dirent64 records of buf (ino u64, off s64,
// reclen u16, type u8, name NUL-terminated) to out; a record that does not
// fit ends the buffer.
func parseDirents(buf []byte, out []dirent) []dirent {
	const nameOff = 19
	for len(buf) >= nameOff {
		reclen := int(binary.NativeEndian.Uint16(buf[16:18]))
		if reclen <= nameOff || reclen > len(buf) {
			break
		}
		name := buf[nameOff:reclen]
		if i := bytes.IndexByte(name, 0); i >= 0 {
			name = name[:i]
		}
		if s := string(name); s != "." && s != ".." && s != "" {
			out = append(out, dirent{name: s, typ: buf[18]})
		}
		buf = buf[reclen:]
	}
	return out
}

// later reports whether time a is after time b.
func later(a, b unix.Timespec) bool {
	return a.Sec > b.Sec || a.Sec == b.Sec && a.Nsec > b.Nsec
}

func (w *walker) add(dirfd int, path, rel, base string) {
	ix := w.ix
	if w.stamp {
		var st unix.Stat_t
		if unix.Fstatat(dirfd, base, &st, 0) == nil {
			if later(st.Mtim, w.newest) {
				w.newest = st.Mtim
			}
		}
	}
	name := Normalize(base)
	if old, ok := ix.mods[name]; ok {
		// depmod's default search order: updates/ before the rest.
		if !strings.HasPrefix(rel, "updates/") || strings.HasPrefix(relTo(ix.Dir, old.Path), "updates/") {
			ix.problem(errors.New(path + ": module " + name + " also at " + old.Path + " (ignored)"))
			return
		}
	}
	ix.mods[name] = &Module{Name: name, Path: path}
}

// relTo is path relative to dir when path lies below it, as the walk builds
// them (the clean dir, a slash, the rest), or path itself: another module
// folder's file is below none of dir's subdirectories either way.
// (filepath.Rel, for this, would bring 2 KB of code used nowhere else.)
func relTo(dir, path string) string {
	dir = filepath.Clean(dir)
	if dir != "/" {
		dir += "/"
	}
	if r, ok := strings.CutPrefix(path, dir); ok {
		return r
	}
	return path
}

// loadDepmod applies modules.dep, modules.alias and modules.softdep, unless
// modules.dep does not list exactly the module files found (then it is stale and
// the .modinfo scan is used).
func (ix *Index) loadDepmod() error {
	depPath := filepath.Join(ix.Dir, "modules.dep")
	data, err := os.ReadFile(depPath)
	if err != nil {
		return err
	}
	// Each listed module gets its Depends and depmod at once (the count of
	// modules listed is the count of depmod flags set); a stale file undoes
	// them all below.
	listed := 0
	var stale error
	for n, line := range strings.Split(string(data), "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		file, rest, ok := strings.Cut(line, ":")
		if !ok {
			stale = printf.Errorf("%s:%d: no colon: stale or foreign file, reading .modinfo instead", depPath, n+1)
			break
		}
		name := Normalize(filepath.Base(file))
		m := ix.mods[name]
		want := file
		if filepath.IsAbs(file) {
			want = relTo(ix.Dir, file)
		}
		if m == nil || m.Builtin || relTo(ix.Dir, m.Path) != want {
			stale = printf.Errorf("%s:%d: %s is not in the module tree: stale, reading .modinfo instead", depPath, n+1, file)
			break
		}
		// modules.dep lists every dependency, users before what they use;
		// keep Depends in load order (kmod loads the list from its end).
		var ds []string
		fl := strings.Fields(rest)
		for i := len(fl) - 1; i >= 0; i-- {
			ds = addString(ds, Normalize(filepath.Base(fl[i])))
		}
		if !m.depmod {
			m.depmod = true
			listed++
		}
		m.Depends = ds // a module listed twice: the last line wins
	}
	if stale == nil && listed != len(ix.mods) {
		stale = printf.Errorf("%s lists %d modules, the tree holds %d: stale, reading .modinfo instead", depPath, listed, len(ix.mods))
	}
	if stale != nil {
		for _, m := range ix.mods { // as they were: nothing read yet
			m.Depends, m.depmod = nil, false
		}
		return stale
	}
	if f, err := os.Open(filepath.Join(ix.Dir, "modules.alias")); err == nil {
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 4096), 1<<20)
		for sc.Scan() {
			w := strings.Fields(sc.Text())
			if len(w) == 3 && w[0] == "alias" {
				ix.addAlias(w[1], Normalize(w[2]))
				if m := ix.mods[Normalize(w[2])]; m != nil {
					m.Aliases = addString(m.Aliases, w[1])
				}
			}
		}
		f.Close()
	}
	if f, err := os.Open(filepath.Join(ix.Dir, "modules.softdep")); err == nil {
		c := NewConf()
		c.Parse(f.Name(), f)
		f.Close()
		// modules.softdep names a few modules: look those up, rather
		// than look every module up in it.
		for name, l := range c.SoftPre {
			if m := ix.mods[name]; m != nil {
				m.SoftPre = l
			}
		}
		for name, l := range c.SoftPost {
			if m := ix.mods[name]; m != nil {
				m.SoftPost = l
			}
		}
	}
	ix.depmod, ix.aliasesDone = true, true
	return nil
}

// loadBuiltins reads modules.builtin and modules.builtin.modinfo: built-in
// modules count as loaded, and their aliases resolve (to "built-in").
func (ix *Index) loadBuiltins(dir string) {
	if data, err := os.ReadFile(filepath.Join(dir, "modules.builtin")); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if line = strings.TrimSpace(line); line != "" {
				ix.builtin(Normalize(filepath.Base(line)))
			}
		}
	}
	data, err := os.ReadFile(filepath.Join(dir, "modules.builtin.modinfo"))
	if err != nil {
		return
	}
	for len(data) > 0 {
		i := bytes.IndexByte(data, 0)
		var s []byte
		if i < 0 {
			s, data = data, nil
		} else {
			s, data = data[:i], data[i+1:]
		}
		kv, val, ok := strings.Cut(string(s), "=")
		if !ok {
			continue
		}
		mod, key, ok := strings.Cut(kv, ".")
		if !ok || mod == "" {
			continue
		}
		m := ix.builtin(Normalize(mod))
		if m == nil {
			continue
		}
		m.Fields = append(m.Fields, Field{Key: key, Value: val})
		if key == "alias" {
			m.Aliases = addString(m.Aliases, val)
			ix.addAlias(val, m.Name)
		}
	}
}

// builtin returns the built-in module name, creating it; nil if a module file of
// that name exists (a file wins: the tree is what will be loaded).
func (ix *Index) builtin(name string) *Module {
	m := ix.mods[name]
	if m == nil {
		m = &Module{Name: name, Builtin: true, read: true}
		ix.mods[name] = m
	}
	if !m.Builtin {
		return nil
	}
	return m
}

func (ix *Index) addAlias(pattern, module string) {
	p := normalizeAlias(pattern)
	if p == module {
		return
	}
	if isGlob(p) {
		ix.aliasGlob = append(ix.aliasGlob, aliasEntry{pattern: p, module: module})
	} else {
		ix.aliasExact[p] = addString(ix.aliasExact[p], module)
	}
}

// read fills m from its .modinfo; caller holds ix.mu or owns m exclusively.
// Kept out of line (go:noinline): an inlined copy at each of its callers
// costs more than a call.
//
//go:noinline
func (ix *Index) read(m *Module) {
	if m.read || m.depmod && ix.DependsOnly {
		return
	}
	m.load()
}

// ReadModule reads a module file that no index holds (insmod FILE): named
// by its .modinfo name, else by its file name. Err says why .modinfo could
// not be read.
func ReadModule(path string) *Module {
	m := &Module{Name: Normalize(filepath.Base(path)), Path: path}
	m.load()
	if n := m.Values("name"); len(n) > 0 && n[0] != "" {
		m.Name = Normalize(n[0])
	}
	return m
}

// load reads m's file: Fields, Machine and Err, and, unless depmod's files
// gave them, Depends, Aliases and the soft dependencies.
func (m *Module) load() {
	m.read = true
	m.Fields, m.Machine, m.Err = ReadFile(m.Path)
	if m.depmod {
		return
	}
	for _, f := range m.Fields {
		switch f.Key {
		case "depends":
			for _, d := range strings.Split(f.Value, ",") {
				if d = strings.TrimSpace(d); d != "" && d != "-" {
					m.Depends = addString(m.Depends, Normalize(d))
				}
			}
		case "alias":
			m.Aliases = addString(m.Aliases, f.Value)
		case "softdep":
			m.SoftPre, m.SoftPost = softLists(strings.Fields(f.Value), m.SoftPre, m.SoftPost)
		}
	}
}

// softLists appends the lists of the words "pre: a b post: c" to pre and
// post.
// Kept out of line (go:noinline): inlined at each caller it costs more
// than a call.
//
//go:noinline
func softLists(words, pre, post []string) ([]string, []string) {
	var cur *[]string
	for _, w := range words {
		switch w {
		case "pre:":
			cur = &pre
		case "post:":
			cur = &post
		default:
			if cur != nil {
				*cur = addString(*cur, w)
			}
		}
	}
	return pre, post
}

// Get returns the module of that name (either spelling, .ko suffix allowed),
// read, or nil. Aliases are not consulted.
func (ix *Index) Get(name string) *Module {
	ix.mu.Lock()
	m := ix.mods[Normalize(name)]
	if m != nil {
		ix.read(m)
	}
	ix.mu.Unlock()
	return m
}

// ScanAll reads every module's .modinfo (in parallel) and builds the alias
// table. Lookup calls it when it needs an alias and depmod's files are absent.
func (ix *Index) ScanAll() {
	ix.mu.Lock()
	ix.scanAllLocked()
	ix.mu.Unlock()
}

func (ix *Index) scanAllLocked() {
	if ix.aliasesDone {
		return
	}
	var todo []*Module
	for _, m := range ix.mods {
		if !m.read {
			todo = append(todo, m)
		}
	}
	workers := ix.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	if workers > len(todo) {
		workers = len(todo)
	}
	if workers <= 1 {
		for _, m := range todo {
			ix.read(m)
		}
	} else {
		ch := make(chan *Module)
		done := make(chan bool) // one value per worker that has finished
		for range workers {
			go func() {
				for m := range ch {
					ix.read(m) // each module is owned by one worker
				}
				done <- true
			}()
		}
		for _, m := range todo {
			ch <- m
		}
		close(ch)
		for range workers {
			<-done
		}
	}
	// In map order: Lookup sorts what the alias tables give.
	for _, m := range ix.mods {
		if m.Builtin {
			continue // their aliases came with modules.builtin.modinfo
		}
		for _, a := range m.Aliases {
			ix.addAlias(a, m.Name)
		}
	}
	ix.aliasesDone = true
}

// Lookup resolves a module name or alias (a modalias string, a request_module
// name such as "fs-ext4" or "crypto-crc32c") to modules, read: first
// modules.conf aliases, then names, then the modules' own aliases (glob patterns
// matched fnmatch-style). Several modules may answer one alias; the result is
// sorted by name and never holds duplicates.
func (ix *Index) Lookup(name string) []*Module {
	ix.mu.Lock()
	out := ix.lookupLocked(name)
	ix.mu.Unlock() // no defer: it costs more than this function
	return out
}

func (ix *Index) lookupLocked(name string) []*Module {
	want := normalizeAlias(name)
	var names []string
	if ix.Conf != nil {
		for _, a := range ix.Conf.Aliases {
			if Match(a.Pattern, want) {
				names = addString(names, a.Module)
			}
		}
	}
	if len(names) == 0 {
		if m := ix.mods[Normalize(name)]; m != nil {
			ix.read(m)
			return []*Module{m}
		}
		if ix.Commands && ix.Conf != nil && ix.Conf.commandNames(want) {
			return []*Module{{Name: want, CommandOnly: true, read: true}}
		}
		ix.scanAllLocked()
		names = append(names, ix.aliasExact[want]...)
		for _, a := range ix.aliasGlob {
			if Match(a.pattern, want) {
				names = addString(names, a.module)
			}
		}
	}
	sort.Strings(names)
	var out []*Module
	for i, n := range names {
		if i > 0 && names[i-1] == n {
			continue
		}
		if m := ix.mods[n]; m != nil {
			ix.read(m)
			out = append(out, m)
		}
	}
	return out
}

// Soft returns m's soft dependencies: modules.conf softdep lines for m replace
// the module's own (kmod lets configuration override).
func (ix *Index) Soft(m *Module) (pre, post []string) {
	pre, post = m.SoftPre, m.SoftPost
	if ix.Conf != nil {
		_, hasPre := ix.Conf.SoftPre[m.Name]
		_, hasPost := ix.Conf.SoftPost[m.Name]
		if hasPre || hasPost {
			pre, post = ix.Conf.SoftPre[m.Name], ix.Conf.SoftPost[m.Name]
		}
	}
	return pre, post
}

// Names returns every indexed module name (files and built-ins), sorted.
func (ix *Index) Names() []string {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	out := make([]string, 0, len(ix.mods))
	for n := range ix.mods {
		out = addString(out, n)
	}
	sort.Strings(out)
	return out
}
