// Package getopt parses applet options the way busybox, toybox and kmod users
// type them: clustered short options (-qa, -nv), a value attached or separate
// (-rPATH, -r PATH), long options (--show-depends, --name=VALUE, --name VALUE),
// "--" to end the options, and options ending at the first operand (POSIX), so
// that "modprobe zram num_devices=2" and "oneit -r sh -c ..." keep their
// operands intact.
//
// It replaces package flag, which knows none of these forms (Go's flag takes
// "-qa" for one option named "qa") and costs the binary more.
package getopt

import (
	"errors"
	"io"
	"strings"

	"toybox-go/applets/printf"
)

// ErrHelp is returned by Parse for -h or --help when the applet does not use
// that name itself; the usage text has been written.
var ErrHelp = errors.New("help requested")

// Set is one applet's options. An option name of one character is a short
// option (-x), a longer one a long option (--name); one variable may be given
// several names.
type Set struct {
	name  string
	usage string
	out   io.Writer
	opts  map[string]*option
	args  []string
}

// option is one of: a flag (b), a string (str), or a value handed to fn.
type option struct {
	b    *bool
	str  *string
	fn   func(string) error
	seen bool // given on the command line, under this name
}

// New and the methods that declare or read options are kept out of line
// (go:noinline): every applet calls them many times, and inlined copies (each
// with its own closure) cost the binary some 16 KB more than the calls do.

// New returns an empty Set for the applet name. Parse writes its errors, and
// the usage text after them, to out.
//
//go:noinline
func New(name, usage string, out io.Writer) *Set {
	return &Set{name: name, usage: usage, out: out, opts: map[string]*option{}}
}

// BoolVar makes name an option without a value that sets *p.
//
//go:noinline
func (s *Set) BoolVar(p *bool, name string) {
	s.opts[name] = &option{b: p}
}

// Bool makes name an option without a value and returns its variable.
//
//go:noinline
func (s *Set) Bool(name string) *bool {
	p := new(bool)
	s.BoolVar(p, name)
	return p
}

// StringVar makes name an option with a value, stored in *p (initially def).
//
//go:noinline
func (s *Set) StringVar(p *string, name, def string) {
	*p = def
	s.opts[name] = &option{str: p}
}

// String makes name an option with a value and returns its variable.
//
//go:noinline
func (s *Set) String(name, def string) *string {
	p := new(string)
	s.StringVar(p, name, def)
	return p
}

// Func makes name an option with a value handed to fn each time it appears;
// an error from fn is a usage error naming the option.
//
//go:noinline
func (s *Set) Func(name string, fn func(string) error) {
	s.opts[name] = &option{fn: fn}
}

// Seen reports whether the option name (under that name) was given.
func (s *Set) Seen(name string) bool {
	o := s.opts[name]
	return o != nil && o.seen
}

// Args returns the operands after the options.
//
//go:noinline
func (s *Set) Args() []string { return s.args }

// NArg is len(Args()).
//
//go:noinline
func (s *Set) NArg() int { return len(s.args) }

// Arg returns operand i, or "" when there is none.
//
//go:noinline
func (s *Set) Arg(i int) string {
	if i < 0 || i >= len(s.args) {
		return ""
	}
	return s.args[i]
}

// Usage writes the usage text.
//
//go:noinline
func (s *Set) Usage() { printf.Fprintln(s.out, s.usage) }

// Parse parses args (without the applet's name). On an error it writes
// "NAME: ERROR" and the usage text, and returns the error.
func (s *Set) Parse(args []string) error {
	err := s.parse(args)
	if err == ErrHelp {
		s.Usage()
	} else if err != nil {
		printf.Fprintf(s.out, "%s: %v\n", s.name, err)
		s.Usage()
	}
	return err
}

func (s *Set) parse(args []string) error {
	i := 0
	for ; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			i++
			break
		}
		if len(a) < 2 || a[0] != '-' {
			break
		}
		var err error
		if strings.HasPrefix(a, "--") {
			name, value, hasValue := strings.Cut(a[2:], "=")
			i, _, err = s.option(args, i, "--", name, value, hasValue)
		} else {
			// A cluster "-abc": a value-taking option takes the rest of
			// it, or the next argument.
			used := false
			for j := 1; j < len(a) && !used && err == nil; j++ {
				i, used, err = s.option(args, i, "-", a[j:j+1], a[j+1:], j+1 < len(a))
			}
		}
		if err != nil {
			return err
		}
	}
	s.args = args[i:]
	return nil
}

// option handles the option name, written after dash ("-" or "--"), in
// args[i]; value is what follows it there when hasValue. It returns the index
// of the last argument it used and whether it took a value.
func (s *Set) option(args []string, i int, dash, name, value string, hasValue bool) (int, bool, error) {
	long := dash == "--"
	o := s.opts[name]
	if o == nil || (long && len(name) < 2) {
		help := "h"
		if long {
			help = "help"
		}
		if name == help {
			return i, false, ErrHelp
		}
		return i, false, printf.Errorf("unknown option %s%s", dash, name)
	}
	if o.b != nil {
		if hasValue && long {
			return i, false, printf.Errorf("option --%s takes no value", name)
		}
		return i, false, s.apply(name, o, "")
	}
	if !hasValue {
		if i+1 >= len(args) {
			return i, true, printf.Errorf("option %s%s needs a value", dash, name)
		}
		i++
		value = args[i]
	}
	return i, true, s.apply(name, o, value)
}

func (s *Set) apply(name string, o *option, value string) error {
	o.seen = true
	var err error
	switch {
	case o.b != nil:
		*o.b = true
	case o.str != nil:
		*o.str = value
	default:
		err = o.fn(value)
	}
	if err != nil {
		dash := "-"
		if len(name) > 1 {
			dash = "--"
		}
		return printf.Errorf("option %s%s %q: %w", dash, name, value, err)
	}
	return nil
}
