package rules

import (
	"os"
	"testing"
)

// benchRules evaluates a rules file over the recorded event mix (the
// events table: block, tty, net, firmware, buttons, usb-serial, platform,
// input, sound, removes). isdir stats a real directory tree, as procd
// does on every event. Reports events/s and ns/event.
func benchRules(b *testing.B, path string) {
	s := mustLoad(b, path)
	s.Root = fakeRoot(b)
	mix := make([]map[string]string, len(events))
	for i, e := range events {
		mix[i] = env(e.vars...)
	}
	commands := 0
	emit := func(string, []string) { commands++ }
	b.ReportAllocs()
	b.ResetTimer()
	n := 0
	for b.Loop() {
		s.Run(mix[n%len(mix)], emit)
		n++
	}
	b.StopTimer()
	if commands == 0 {
		b.Fatal("no commands emitted")
	}
	sec := b.Elapsed().Seconds()
	b.ReportMetric(float64(n)/sec, "events/s")
	b.ReportMetric(float64(commands)/float64(n), "cmds/event")
}

func BenchmarkHotplugJSON(b *testing.B)   { benchRules(b, "testdata/current/hotplug.json") }
func BenchmarkHotplugJSONCC(b *testing.B) { benchRules(b, "testdata/chaos_calmer/hotplug.json") }

// BenchmarkLoad is the one-time cost of reading and compiling hotplug.json.
func BenchmarkLoad(b *testing.B) {
	data, err := os.ReadFile("testdata/current/hotplug.json")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse("hotplug.json", data); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkHotplugJSONNaive is the comparison point: the same events
// through the naive walker of oracle_test.go, which walks the JSON and
// compiles each regex on every event, as libubox does (regcomp per match).
func BenchmarkHotplugJSONNaive(b *testing.B) {
	const path = "testdata/current/hotplug.json"
	data, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	top, err := parseJSON(data, func(int, string) {})
	if err != nil {
		b.Fatal(err)
	}
	root := fakeRoot(b)
	mix := make([]map[string]string, len(events))
	for i, e := range events {
		mix[i] = env(e.vars...)
	}
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		oracleRun(path, top, mix[n%len(mix)], ProcdFallback, root)
		n++
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
}
