package rules

import (
	"os"
	"testing"
)

// The compiled scripts agree with the naive walker on every fixture and
// recorded event.
func TestCompiledMatchesOracle(t *testing.T) {
	root := fakeRoot(t)
	for _, p := range []string{
		"testdata/current/hotplug.json", "testdata/chaos_calmer/hotplug.json",
		"testdata/current/hotplug-preinit.json", "testdata/chaos_calmer/hotplug-preinit.json",
		"testdata/json_script/json-script.json",
	} {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		top, err := parseJSON(data, func(int, string) {})
		if err != nil {
			t.Fatal(err)
		}
		s := mustLoad(t, p)
		s.Root = root
		for _, e := range events {
			vars := env(e.vars...)
			got, want := output(s, vars), oracleRun(p, top, vars, ProcdFallback, root)
			if !equalLines(got, want) {
				t.Errorf("%s, %s: compiled %q, oracle %q", p, e.name, got, want)
			}
		}
	}
}
