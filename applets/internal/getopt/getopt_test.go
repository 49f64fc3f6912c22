package getopt

import (
	"bytes"
	"errors"
	"strconv"
	"strings"
	"testing"
)

// modprobeLike is a Set shaped like modprobe's: flags, valued options, a long
// alias.
type modprobeLike struct {
	set                   *Set
	all, remove, quiet, d *bool
	base                  *string
	params                []string
	out                   bytes.Buffer
}

func newModprobe() *modprobeLike {
	m := &modprobeLike{}
	m.set = New("modprobe", "usage: modprobe [-aqr] [-d DIR] NAME...", &m.out)
	m.all, m.remove, m.quiet = m.set.Bool("a"), m.set.Bool("r"), m.set.Bool("q")
	m.d = m.set.Bool("D")
	m.set.BoolVar(m.d, "show-depends")
	m.base = m.set.String("d", "/")
	m.set.Func("o", func(v string) error {
		if v == "bad" {
			return errors.New("not allowed")
		}
		m.params = append(m.params, v)
		return nil
	})
	return m
}

func TestForms(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string // a r q D base params | operands
	}{
		{nil, "false false false false / [] |"},
		{[]string{"-qa", "loop", "zram"}, "true false true false / [] | loop zram"},
		{[]string{"-a", "-q", "-r", "x"}, "true true true false / [] | x"},
		{[]string{"-d/tmp/m", "x"}, "false false false false /tmp/m [] | x"},
		{[]string{"-d", "/tmp/m", "x"}, "false false false false /tmp/m [] | x"},
		{[]string{"-qd/tmp/m", "x"}, "false false true false /tmp/m [] | x"},
		{[]string{"-qd", "/tmp/m", "x"}, "false false true false /tmp/m [] | x"},
		{[]string{"--show-depends", "x"}, "false false false true / [] | x"},
		{[]string{"-D", "x"}, "false false false true / [] | x"},
		{[]string{"-o", "a", "-ob", "x"}, "false false false false / [a b] | x"},
		// Options end at the first operand and after "--"; "-" is an operand.
		{[]string{"zram", "num_devices=2", "-q"}, "false false false false / [] | zram num_devices=2 -q"},
		{[]string{"-q", "--", "-a"}, "false false true false / [] | -a"},
		{[]string{"-", "-q"}, "false false false false / [] | - -q"},
		{[]string{"-d", "--", "x"}, "false false false false -- [] | x"},
	} {
		m := newModprobe()
		if err := m.set.Parse(tc.args); err != nil {
			t.Errorf("%q: %v", tc.args, err)
			continue
		}
		got := strings.Join([]string{strconv.FormatBool(*m.all), strconv.FormatBool(*m.remove),
			strconv.FormatBool(*m.quiet), strconv.FormatBool(*m.d), *m.base,
			"[" + strings.Join(m.params, " ") + "]", "|"}, " ")
		if m.set.NArg() > 0 {
			got += " " + strings.Join(m.set.Args(), " ")
		}
		if got != tc.want {
			t.Errorf("%q:\n got %s\nwant %s", tc.args, got, tc.want)
		}
	}
}

func TestErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-x"}, "unknown option -x"},
		{[]string{"-qx"}, "unknown option -x"},
		{[]string{"--nope"}, "unknown option --nope"},
		{[]string{"--d", "x"}, "unknown option --d"}, // one letter is short only
		{[]string{"-d"}, "option -d needs a value"},
		{[]string{"-qd"}, "option -d needs a value"},
		{[]string{"--show-depends=1"}, "option --show-depends takes no value"},
		{[]string{"-obad"}, `option -o "bad": not allowed`},
	} {
		m := newModprobe()
		err := m.set.Parse(tc.args)
		if err == nil || err.Error() != tc.want {
			t.Errorf("%q: error %v, want %q", tc.args, err, tc.want)
		}
		if out := m.out.String(); !strings.HasPrefix(out, "modprobe: "+tc.want+"\nusage: modprobe") {
			t.Errorf("%q: wrote %q", tc.args, out)
		}
	}
}

func TestHelp(t *testing.T) {
	for _, args := range [][]string{{"-h"}, {"--help"}, {"-qh"}} {
		m := newModprobe()
		if err := m.set.Parse(args); err != ErrHelp {
			t.Errorf("%q: %v, want ErrHelp", args, err)
		}
		if m.out.String() != "usage: modprobe [-aqr] [-d DIR] NAME...\n" {
			t.Errorf("%q: wrote %q", args, m.out.String())
		}
	}
	// An applet that uses -h itself (pid2 -h RULES) gets it as an option.
	var out bytes.Buffer
	s := New("pid2", "usage", &out)
	rules := s.String("h", "")
	if err := s.Parse([]string{"-h", "/etc/hotplug.json"}); err != nil || *rules != "/etc/hotplug.json" || !s.Seen("h") || s.Seen("d") {
		t.Errorf("-h as an option: %v %q", err, *rules)
	}
}

func TestArg(t *testing.T) {
	s := New("x", "usage", &bytes.Buffer{})
	if err := s.Parse([]string{"a"}); err != nil || s.Arg(0) != "a" || s.Arg(1) != "" || s.Arg(-1) != "" {
		t.Errorf("Arg: %v %q %q", err, s.Arg(0), s.Arg(1))
	}
}

// FuzzParse: any argument list parses or fails with a message; the operands
// are always a suffix of the arguments.
func FuzzParse(f *testing.F) {
	f.Add("-qa\x00loop")
	f.Add("-d\x00--\x00x")
	f.Add("--show-depends=\x00-obad")
	f.Add("-qd/x\x00--\x00-h")
	f.Fuzz(func(t *testing.T, joined string) {
		args := strings.Split(joined, "\x00")
		m := newModprobe()
		err := m.set.Parse(args)
		if err != nil {
			if !strings.HasPrefix(m.out.String(), "usage") && !strings.HasPrefix(m.out.String(), "modprobe: ") {
				t.Fatalf("%q: error %v without a message: %q", args, err, m.out.String())
			}
			return
		}
		ops := m.set.Args()
		if len(ops) > len(args) || strings.Join(args[len(args)-len(ops):], "\x00") != strings.Join(ops, "\x00") {
			t.Fatalf("%q: operands %q are not a suffix", args, ops)
		}
	})
}
