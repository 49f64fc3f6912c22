package rules

import (
	"path/filepath"
	"testing"
)

// The reference vectors of libubox's json_script (tests/cram/
// test_json_script.t and examples/json_script-tests.sh), as expected
// outputs: one line per command, "name arg arg".

func TestReferenceScript(t *testing.T) {
	s := mustLoad(t, "testdata/json_script/json-script.json")
	s.Fallback = nil
	if w := s.Warnings(); len(w) != 0 {
		t.Errorf("warnings for the reference script: %v", w)
	}
	for _, tc := range []struct {
		vars []string
		want []string
	}{
		{nil, []string{"exec  /%/", "exec_if_or "}},
		{[]string{"EXECVAR=meh", "ORVAR=meep"}, []string{"exec meh /%/", "exec_if_or meep"}},
	} {
		got := output(s, env(tc.vars...))
		if !equalLines(got, tc.want) {
			t.Errorf("vars %q: got %q, want %q", tc.vars, got, tc.want)
		}
	}
}

// Further behaviour of the same file, each traced through the rules by
// hand: the and-branch needs all five conditions, isdir is taken, nothing
// after return runs.
func TestReferenceScriptBranches(t *testing.T) {
	s := mustLoad(t, "testdata/json_script/json-script.json")
	s.Fallback = nil
	root := t.TempDir()
	for _, tc := range []struct {
		name string
		vars []string
		want []string
	}{
		{"eq branch", []string{"EQVAR=eqval", "VAR=v"},
			[]string{"exec  /%/", "exec_if v % jk", "exec_if_or "}},
		{"case 0", []string{"CASEVAR=caseval0"},
			[]string{"exec  /%/", "cmd_case_0 cmd_case_arg0 case_cmd_arg1", "exec_if_or "}},
		{"case 1", []string{"CASEVAR=caseval1"},
			[]string{"exec  /%/", "cmd_case_1 cmd_case_arg0 case_cmd_arg1", "exec_if_or "}},
		{"case none", []string{"CASEVAR=caseval2"},
			[]string{"exec  /%/", "exec_if_or "}},
		{"and all true", []string{"EQVAR=eqval", "HASVAR=", "REGEXVAR0=xregexvalx", "REGEXVAR1=regexval11", "ANDVAR=a"},
			[]string{"exec  /%/", "exec_if  % jk", "exec_if_and a", "exec_if_or "}},
		{"and one false (not eq)", []string{"EQVAR=eqval", "HASVAR=", "REGEXVAR0=regexval", "REGEXVAR1=regexval10", "NOTEQVAR=noteqval", "ANDVAR=a"},
			[]string{"exec  /%/", "exec_if  % jk", "exec_if_or "}},
		{"or all false", []string{"NOTEQVAR=noteqval", "ORVAR=o"},
			[]string{"exec  /%/"}},
		{"isdir", []string{"NOTEQVAR=noteqval", "ISDIRVAR=" + root},
			[]string{"exec  /%/", "exec_isdir " + root}},
		{"isdir of a file", []string{"NOTEQVAR=noteqval", "ISDIRVAR=" + filepath.Join("testdata", "json_script", "json-script.json")},
			[]string{"exec  /%/"}},
	} {
		got := output(s, env(tc.vars...))
		if !equalLines(got, tc.want) {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestReferenceVectors(t *testing.T) {
	type run struct {
		vars []string
		want []string
	}
	for _, tc := range []struct {
		name, script string
		runs         []run
	}{
		{"has", `[ [ "if", [ "has", "VAR" ], [ "echo", "bar" ], [ "echo", "baz" ] ] ]`, []run{
			{[]string{"VAR=foo"}, []string{"echo bar"}},
			{[]string{"VAR=bar"}, []string{"echo bar"}},
			{[]string{"VAR="}, []string{"echo bar"}},
			{nil, []string{"echo baz"}},
		}},
		{"eq", `[ [ "if", [ "eq", "VAR", "bar" ], [ "echo", "foo" ], [ "echo", "baz" ] ] ]`, []run{
			{[]string{"VAR=bar"}, []string{"echo foo"}},
			{[]string{"VAR=xxx"}, []string{"echo baz"}},
			{nil, []string{"echo baz"}},
		}},
		{"regex single", `[ [ "if", [ "regex", "VAR", ".ell." ], [ "echo", "bar" ], [ "echo", "baz" ] ] ]`, []run{
			{[]string{"VAR=hello"}, []string{"echo bar"}},
			{[]string{"VAR=.ell."}, []string{"echo bar"}},
			{nil, []string{"echo baz"}},
			{[]string{"VAR="}, []string{"echo baz"}},
			{[]string{"VAR=hell"}, []string{"echo baz"}},
		}},
		{"regex multi", `[ [ "if", [ "regex", "VAR", [ ".ell.", "w.rld" ] ], [ "echo", "bar" ], [ "echo", "baz" ] ] ]`, []run{
			{[]string{"VAR=hello"}, []string{"echo bar"}},
			{[]string{"VAR=world"}, []string{"echo bar"}},
			{[]string{"VAR=.ell."}, []string{"echo bar"}},
			{[]string{"VAR=w.rld"}, []string{"echo bar"}},
			{nil, []string{"echo baz"}},
			{[]string{"VAR="}, []string{"echo baz"}},
			{[]string{"VAR=hell"}, []string{"echo baz"}},
		}},
		{"not", `[ [ "if", [ "not", [ "has", "VAR" ] ], [ "echo", "bar" ], [ "echo", "baz" ] ] ]`, []run{
			{[]string{"VAR=foo"}, []string{"echo baz"}},
			{nil, []string{"echo bar"}},
		}},
		{"and", `[ [ "if", [ "and", [ "eq", "EQVAR", "eqval" ], [ "regex", "REGEXVAR", "regex..." ] ], [ "echo", "bar" ], [ "echo", "baz" ] ] ]`, []run{
			{[]string{"EQVAR=eqval", "REGEXVAR=regexval"}, []string{"echo bar"}},
			{[]string{"EQVAR=foo"}, []string{"echo baz"}},
			{[]string{"REGEXVAR=regex***"}, []string{"echo baz"}},
			{nil, []string{"echo baz"}},
		}},
		{"or", `[ [ "if", [ "or", [ "not", [ "eq", "EQVAR", "eqval" ] ], [ "regex", "REGEXVAR", [ "regexva.[0-9]", "regexva.[a-z]" ] ] ], [ "echo", "bar" ], [ "echo", "baz" ] ] ]`, []run{
			{[]string{"EQVAR=eqval", "REGEXVAR=regexval1"}, []string{"echo bar"}},
			{[]string{"EQVAR=neq", "REGEXVAR=sxc"}, []string{"echo bar"}},
			{[]string{"REGEXVAR=sxc"}, []string{"echo bar"}},
			{[]string{"EQVAR=foo"}, []string{"echo bar"}},
			{nil, []string{"echo bar"}},
			{[]string{"EQVAR=eqval", "REGEXVAR=regexval"}, []string{"echo baz"}},
		}},
		{"isdir", `[ [ "if", [ "isdir", "%VAR%" ], [ "echo", "bar" ], [ "echo", "baz" ] ] ]`, []run{
			{[]string{"VAR=/"}, []string{"echo bar"}},
			{[]string{"VAR=/nonexistent-rules-test-dir"}, []string{"echo baz"}},
			{nil, []string{"echo baz"}},
		}},
		{"case", `[ [ "case", "CASEVAR", { "0": [ "echo", "foo" ], "1": [ [ "echo", "bar" ], [ "echo", "baz" ] ], "%VAR%": [ "echo", "quz" ] } ] ]`, []run{
			{[]string{"CASEVAR=0"}, []string{"echo foo"}},
			{[]string{"CASEVAR=1"}, []string{"echo bar", "echo baz"}},
			{[]string{"CASEVAR=%VAR%"}, []string{"echo quz"}},
			{[]string{"CASEVAR="}, nil},
			{nil, nil},
			{[]string{"CASEVAR=xxx", "VAR=xxx"}, nil},
		}},
		{"if", `[ [ "if", [ "eq", "VAR", "foo" ], [ "echo", "bar" ], [ "echo", "baz" ] ] ]`, []run{
			{[]string{"VAR=foo"}, []string{"echo bar"}},
			{[]string{"VAR=xxx"}, []string{"echo baz"}},
		}},
		{"command", `[ [ "exec", "%VAR%", "/%VAS%%%/" ] ]`, []run{
			{nil, []string{"exec  /%/"}},
			{[]string{"VAR="}, []string{"exec  /%/"}},
			{[]string{"VAR=qux", "VAS=3"}, []string{"exec qux /3%/"}},
		}},
		{"return", `[ [ "heh", "%HEHVAR%" ], [ "%VAR%", "%VAR%" ], [ "return" ], [ "exec_non_reachable", "Arghhh" ] ]`, []run{
			{[]string{"HEHVAR=dude", "VAR=ow"}, []string{"heh dude", "%VAR% ow"}},
		}},
	} {
		s := mustParse(t, tc.name+".json", tc.script)
		s.Fallback = nil
		if w := s.Warnings(); len(w) != 0 {
			t.Errorf("%s: warnings %v", tc.name, w)
		}
		for _, r := range tc.runs {
			got := output(s, env(r.vars...))
			if !equalLines(got, r.want) {
				t.Errorf("%s, vars %q: got %q, want %q", tc.name, r.vars, got, r.want)
			}
		}
	}
}

// libubox's loader refuses these; so do we, naming the file and line.
func TestReferenceBadJSON(t *testing.T) {
	for _, tc := range []struct {
		text string
		line int
	}{
		{"}\n", 1},
		{"[ [ ] [ ] ]\n", 1},
		{"[\n\t[ ]\n\t[ ]\n]\n", 3},
		{"", 1},
	} {
		_, err := Parse("test.json", []byte(tc.text))
		if err == nil {
			t.Errorf("%q: parsed", tc.text)
			continue
		}
		asError(t, err, "test.json", tc.line)
	}
	if _, err := LoadFile("testdata/nada.json"); err == nil {
		t.Error("LoadFile of a missing file succeeded")
	} else {
		asError(t, err, "testdata/nada.json", 0)
	}
}
