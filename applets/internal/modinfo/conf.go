package modinfo

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Conf is what /etc/modules.conf (OpenWrt) and modprobe.d files (kmod) say about
// modules: blacklist, options, softdep and alias lines. Keys are normalised
// names.
type Conf struct {
	Blacklist map[string]bool
	Options   map[string]string // space-joined, in file order
	SoftPre   map[string][]string
	SoftPost  map[string][]string
	Aliases   []ConfAlias
	// Problems holds one "file:line: message" per line that was not understood;
	// parsing carries on past them.
	Problems []string
}

// ConfAlias is an `alias PATTERN MODULE` line.
type ConfAlias struct {
	Pattern, Module string
}

// NewConf returns an empty Conf.
func NewConf() *Conf {
	return &Conf{
		Blacklist: map[string]bool{},
		Options:   map[string]string{},
		SoftPre:   map[string][]string{},
		SoftPost:  map[string][]string{},
	}
}

// LoadConf reads the given files and directories (every *.conf inside, sorted)
// that exist; missing ones are fine.
func LoadConf(paths ...string) *Conf {
	c := NewConf()
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			continue
		}
		files := []string{p}
		if st.IsDir() {
			files, _ = filepath.Glob(filepath.Join(p, "*.conf"))
			sort.Strings(files)
		}
		for _, f := range files {
			fh, err := os.Open(f)
			if err != nil {
				c.Problems = append(c.Problems, fmt.Sprintf("%s: %v", f, err))
				continue
			}
			c.Parse(f, fh)
			fh.Close()
		}
	}
	return c
}

// Parse reads one file's lines. name is used in problem reports.
func (c *Conf) Parse(name string, r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		text := sc.Text()
		if i := strings.IndexByte(text, '#'); i >= 0 {
			text = text[:i]
		}
		f := strings.Fields(text)
		if len(f) == 0 {
			continue
		}
		bad := func(format string, args ...any) {
			c.Problems = append(c.Problems, fmt.Sprintf("%s:%d: %s", name, line, fmt.Sprintf(format, args...)))
		}
		switch f[0] {
		case "blacklist":
			if len(f) != 2 {
				bad("blacklist takes one module name")
				continue
			}
			c.Blacklist[Normalize(f[1])] = true
		case "options":
			if len(f) < 2 {
				bad("options needs a module name")
				continue
			}
			if len(f) == 2 {
				continue
			}
			m := Normalize(f[1])
			c.Options[m] = joinParams(c.Options[m], strings.Join(f[2:], " "))
		case "softdep":
			if len(f) < 3 {
				bad("softdep needs a module name and pre: or post: modules")
				continue
			}
			m := Normalize(f[1])
			if f[2] != "pre:" && f[2] != "post:" {
				bad("softdep %s: %q before pre: or post:", f[1], f[2])
				continue
			}
			c.fixSoft(m, f[2:])
		case "alias":
			if len(f) != 3 {
				bad("alias takes a pattern and a module name")
				continue
			}
			c.Aliases = append(c.Aliases, ConfAlias{normalizeAlias(f[1]), Normalize(f[2])})
		case "install", "remove":
			bad("%s commands are not supported (ignored)", f[0])
		default:
			bad("unknown keyword %q", f[0])
		}
	}
	if err := sc.Err(); err != nil {
		c.Problems = append(c.Problems, fmt.Sprintf("%s:%d: %v", name, line+1, err))
	}
}

// fixSoft recomputes a softdep line's lists from its words; simpler and surer
// than tracking slice aliasing in the loop above.
func (c *Conf) fixSoft(m string, words []string) {
	var pre, post []string
	var cur *[]string
	for _, w := range words {
		switch w {
		case "pre:":
			cur = &pre
		case "post:":
			cur = &post
		default:
			if cur != nil {
				*cur = append(*cur, w)
			}
		}
	}
	// Several softdep lines for one module add up: the kernel's
	// MODULE_SOFTDEP makes one line each (btrfs has four), and depmod copies
	// them so. (kmod 30 honours only the first: we honour them all.)
	if pre != nil {
		c.SoftPre[m] = append(c.SoftPre[m], pre...)
	}
	if post != nil {
		c.SoftPost[m] = append(c.SoftPost[m], post...)
	}
}

func joinParams(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + " " + b
}
