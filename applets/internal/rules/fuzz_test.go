package rules

import (
	"errors"
	"os"
	"strings"
	"testing"
)

// seedFiles are the fixture rule files, used as seeds by both targets.
var seedFiles = []string{
	"testdata/current/hotplug.json",
	"testdata/current/hotplug-preinit.json",
	"testdata/chaos_calmer/hotplug.json",
	"testdata/chaos_calmer/hotplug-preinit.json",
	"testdata/json_script/json-script.json",
}

var seedSnippets = []string{
	`[ [ "exec", "%VAR%", "/%VAS%%%/" ] ]`,
	`[ [ "case", "CASEVAR", { "0": [ "echo", "foo" ], "1": [ [ "echo", "bar" ], [ "echo", "baz" ] ] } ] ]`,
	`[ [ "if", [ "or", [ "not", [ "eq", "EQVAR", "eqval" ] ], [ "regex", "REGEXVAR", [ "regexva.[0-9]", "regexva.[a-z]" ] ] ], [ "echo", "bar" ], [ "echo", "baz" ] ] ]`,
	`[ [ "if", "junk", [ "has", [ "A", 5 ] ], [ "t" ], [ "e" ] ], [ "return", 1 ], [ "x" ] ]`,
	`[ [ "include", "testdata/include/cwd.json" ], [ "include", "fuzz.json" ] ]`,
	"[ /* c */ [ 'a', TRUE, 0666, \"\\u00e9\\ud800\" ], ] trailing",
	"[ [ \"if\", [ \"isdir\", \"/etc/hotplug.d/%SUBSYSTEM%\" ], [ \"x\", \"%\" ] ] ]",
	"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\"deep\"]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
	"[ \"\xff\", [ \"\xfe\" ] ]",
}

func addFileSeeds(f *testing.F, extra ...any) {
	for _, p := range seedFiles {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(append([]any{data}, extra...)...)
	}
	for _, s := range seedSnippets {
		f.Add(append([]any{[]byte(s)}, extra...)...)
	}
}

// FuzzParse: the loader never panics; a refused file is a *Error naming
// the file and a line, and every warning names a file and line too.
func FuzzParse(f *testing.F) {
	addFileSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse("fuzz.json", data)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.File != "fuzz.json" || e.Line < 1 {
				t.Fatalf("bad load error %v (%T)", err, err)
			}
			if !strings.HasPrefix(err.Error(), "fuzz.json:") {
				t.Fatalf("error %q does not start with the file", err)
			}
			return
		}
		for _, w := range s.Warnings() {
			var e *Error
			if !errors.As(w, &e) || e.File == "" || e.Line < 1 {
				t.Fatalf("bad warning %v (%T)", w, w)
			}
		}
		s.Run(map[string]string{"ACTION": "add", "DEVPATH": "/devices/x/y"}, func(string, []string) {})
	})
}

// FuzzRun: for any rules and any event, the compiled script emits
// exactly what the naive json_script walker (oracle_test.go) emits.
// env holds the variables, one KEY=VALUE a line.
func FuzzRun(f *testing.F) {
	root := fakeRoot(f)
	var envs []string
	for _, e := range events {
		envs = append(envs, strings.Join(e.vars, "\n"))
	}
	envs = append(envs, "", "EXECVAR=meh\nORVAR=meep", "VAR=qux\nVAS=3", "A=\xff\nB=%A%")
	for _, p := range seedFiles {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		for _, e := range envs {
			f.Add(data, e)
		}
	}
	for _, s := range seedSnippets {
		f.Add([]byte(s), envs[0])
	}
	f.Fuzz(func(t *testing.T, data []byte, envText string) {
		s, err := Parse("fuzz.json", data)
		if err != nil {
			return
		}
		s.Root = root
		vars := map[string]string{}
		for _, line := range strings.Split(envText, "\n") {
			if k, v, ok := strings.Cut(line, "="); ok {
				if _, dup := vars[k]; !dup {
					vars[k] = v // the first of duplicate keys, as procd
				}
			}
		}
		top, err := parseJSON(data, func(int, string) {})
		if err != nil {
			t.Fatalf("Parse accepted what parseJSON refuses: %v", err)
		}
		got := output(s, vars)
		want := oracleRun("fuzz.json", top, vars, ProcdFallback, root)
		if !equalLines(got, want) {
			t.Fatalf("compiled %q, oracle %q", got, want)
		}
	})
}
