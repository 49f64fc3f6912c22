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
	seen  map[string]bool
	args  []string
}

type option struct {
	takesValue bool
	set        func(string) error
}

// New and the methods that declare or read options are kept out of line
// (go:noinline): every applet calls them many times, and inlined copies (each
// with its own closure) cost the binary some 16 KB more than the calls do.

// New returns an empty Set for the applet name. Parse writes its errors, and
// the usage text after them, to out.
//
//go:noinline
func New(name, usage string, out io.Writer) *Set {
	return &Set{name: name, usage: usage, out: out, opts: map[string]*option{}, seen: map[string]bool{}}
}

// BoolVar makes name an option without a value that sets *p.
//
//go:noinline
func (s *Set) BoolVar(p *bool, name string) {
	s.opts[name] = &option{set: func(string) error { *p = true; return nil }}
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
	s.opts[name] = &option{takesValue: true, set: func(v string) error { *p = v; return nil }}
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
func (s *Set) Func(name string, fn func(string) error) {
	s.opts[name] = &option{takesValue: true, set: fn}
}

// Seen reports whether the option name (under that name) was given.
func (s *Set) Seen(name string) bool { return s.seen[name] }

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
			i, err = s.long(args, i)
		} else {
			i, err = s.short(args, i)
		}
		if err != nil {
			return err
		}
	}
	s.args = args[i:]
	return nil
}

// long handles args[i] = "--name" or "--name=value" and returns the index of
// the last argument it used.
func (s *Set) long(args []string, i int) (int, error) {
	name, value, hasValue := strings.Cut(args[i][2:], "=")
	o := s.opts[name]
	if o == nil || len(name) < 2 {
		if name == "help" {
			return i, ErrHelp
		}
		return i, printf.Errorf("unknown option --%s", name)
	}
	if !o.takesValue {
		if hasValue {
			return i, printf.Errorf("option --%s takes no value", name)
		}
		return i, s.apply(name, o, "")
	}
	if !hasValue {
		if i+1 >= len(args) {
			return i, printf.Errorf("option --%s needs a value", name)
		}
		i++
		value = args[i]
	}
	return i, s.apply(name, o, value)
}

// short handles a cluster args[i] = "-abc" (a value-taking option takes the
// rest of the cluster, or the next argument) and returns the index of the last
// argument it used.
func (s *Set) short(args []string, i int) (int, error) {
	a := args[i]
	for j := 1; j < len(a); j++ {
		name := a[j : j+1]
		o := s.opts[name]
		if o == nil {
			if name == "h" {
				return i, ErrHelp
			}
			return i, printf.Errorf("unknown option -%s", name)
		}
		if !o.takesValue {
			if err := s.apply(name, o, ""); err != nil {
				return i, err
			}
			continue
		}
		value := a[j+1:]
		if value == "" {
			if i+1 >= len(args) {
				return i, printf.Errorf("option -%s needs a value", name)
			}
			i++
			value = args[i]
		}
		return i, s.apply(name, o, value)
	}
	return i, nil
}

func (s *Set) apply(name string, o *option, value string) error {
	s.seen[name] = true
	if err := o.set(value); err != nil {
		dash := "-"
		if len(name) > 1 {
			dash = "--"
		}
		return printf.Errorf("option %s%s %q: %w", dash, name, value, err)
	}
	return nil
}
