package rules

import "testing"

func TestTemplateEdges(t *testing.T) {
	vars := env("A=1", "B=2", "P=%B%", "E=", "DEVNAME=sda1")
	for _, tc := range []struct {
		arg     string
		want    string
		dropped bool // odd number of '%': the command never runs
	}{
		{"plain", "plain", false},
		{"", "", false},
		{"%%", "%", false},
		{"%%%%", "%%", false},
		{"100%%", "100%", false},
		{"%%A%%", "%A%", false},
		{"%A%%B%", "12", false},
		{"%A%%%%B%", "1%2", false},
		{"x%UNSET%y", "xy", false},
		{"%UNSET%", "", false},
		{"%E%", "", false},
		{"%P%", "%B%", false}, // values are not substituted again
		{"/dev/%DEVNAME%", "/dev/sda1", false},
		{"%A%/%B%/%A%", "1/2/1", false},
		{"%a%", "", false}, // names are case-sensitive
		{"%", "", true},
		{"%%%", "", true},
		{"a%", "", true},
		{"%A", "", true},
		{"%A%%", "", true},
		{"/%DEVNAME", "", true},
	} {
		text := `[ [ "before" ], [ "cmd", "` + tc.arg + `" ], [ "after" ] ]`
		s := mustParse(t, "t.json", text)
		got := output(s, vars)
		want := []string{"before", "cmd " + tc.want, "after"}
		if tc.dropped {
			want = []string{"before", "after"}
			if len(s.Warnings()) != 1 {
				t.Errorf("%q: want one warning, got %v", tc.arg, s.Warnings())
			}
		}
		if !equalLines(got, want) {
			t.Errorf("%q: got %q, want %q", tc.arg, got, want)
		}
	}
}

// Many parts (more than expand keeps on the stack) still come out right.
func TestTemplateManyParts(t *testing.T) {
	arg := ""
	want := ""
	for i := 0; i < 20; i++ {
		arg += "%A%-"
		want += "1-"
	}
	s := mustParse(t, "t.json", `[ [ "cmd", "`+arg+`" ] ]`)
	if got := output(s, env("A=1")); !equalLines(got, []string{"cmd " + want}) {
		t.Errorf("got %q", got)
	}
}

// isdir with an unterminated reference is an error: neither branch runs.
func TestIsdirUnterminated(t *testing.T) {
	s := mustParse(t, "t.json", `[ [ "if", [ "isdir", "/%X" ], [ "then" ], [ "else" ] ], [ "after" ] ]`)
	if got := output(s, nil); !equalLines(got, []string{"after"}) {
		t.Errorf("got %q", got)
	}
	if len(s.Warnings()) != 1 {
		t.Errorf("warnings: %v", s.Warnings())
	}
}

func TestIsdirRoot(t *testing.T) {
	root := fakeRoot(t)
	s := mustParse(t, "t.json", `[ [ "if", [ "isdir", "/etc/hotplug.d/%S%" ], [ "yes", "%S%" ], [ "no", "%S%" ] ] ]`)
	s.Root = root
	for _, tc := range []struct{ s, want string }{
		{"net", "yes net"},
		{"sound", "no sound"}, // a regular file
		{"missing", "no missing"},
		{"../../../etc/hotplug.d/net", "yes ../../../etc/hotplug.d/net"}, // stays under Root
		{"", "yes "}, // /etc/hotplug.d/ itself
	} {
		if got := output(s, env("S="+tc.s)); !equalLines(got, []string{tc.want}) {
			t.Errorf("S=%q: got %q, want %q", tc.s, got, tc.want)
		}
	}
	// The real root: "/" is a directory, "" is not (stat fails).
	s2 := mustParse(t, "t.json", `[ [ "if", [ "isdir", "%P%" ], [ "yes" ], [ "no" ] ] ]`)
	for _, tc := range []struct{ p, want string }{{"/", "yes"}, {"", "no"}, {"/proc/self/status", "no"}} {
		if got := output(s2, env("P="+tc.p)); !equalLines(got, []string{tc.want}) {
			t.Errorf("P=%q: got %q, want %q", tc.p, got, tc.want)
		}
	}
}
