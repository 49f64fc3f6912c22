package rules

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// output runs s and formats each command the way libubox's example host
// prints it: the name, then " " and each argument.
func output(s *Script, vars map[string]string) []string {
	var out []string
	s.Run(vars, func(cmd string, args []string) {
		line := cmd
		for _, a := range args {
			line += " " + a
		}
		out = append(out, line)
	})
	return out
}

// env turns "K=V" strings into variables, splitting at the first '='.
func env(kv ...string) map[string]string {
	m := make(map[string]string, len(kv))
	for _, s := range kv {
		k, v, _ := strings.Cut(s, "=")
		m[k] = v
	}
	return m
}

func mustParse(t testing.TB, name, text string) *Script {
	t.Helper()
	s, err := Parse(name, []byte(text))
	if err != nil {
		t.Fatalf("Parse(%s): %v", name, err)
	}
	return s
}

func mustLoad(t testing.TB, path string) *Script {
	t.Helper()
	s, err := LoadFile(path)
	if err != nil {
		t.Fatalf("LoadFile(%s): %v", path, err)
	}
	return s
}

func equalLines(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// writeFile creates dir/name with text, making parents.
func writeFile(t testing.TB, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// asError checks that err is a *Error naming file and, if line > 0, line.
func asError(t testing.TB, err error, file string, line int) *Error {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not a *rules.Error", err, err)
	}
	if e.File != file {
		t.Errorf("error %q names file %q, want %q", err, e.File, file)
	}
	if line > 0 && e.Line != line {
		t.Errorf("error %q names line %d, want %d", err, e.Line, line)
	}
	return e
}
