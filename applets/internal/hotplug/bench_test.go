package hotplug

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"toybox-go/applets/internal/uevent"
	"toybox-go/internal/testbin"
)

// recordedEvents builds the "add" messages coldplug would make the kernel send
// for this machine's devices, from their uevent files in /sys (null excluded:
// its rule runs /bin/ln on the real /dev).
func recordedEvents(b *testing.B) [][]byte {
	b.Helper()
	files, err := (&uevent.Trigger{Sys: "/sys"}).Devices()
	if err != nil || len(files) == 0 {
		testbin.Unavailable(b, "no devices in /sys: %v", err)
	}
	var msgs [][]byte
	for i, f := range files {
		dir := filepath.Dir(f)
		devpath := strings.TrimPrefix(dir, "/sys")
		body, err := os.ReadFile(f)
		if err != nil || strings.Contains(string(body), "DEVNAME=null\n") {
			continue
		}
		sub, _ := os.Readlink(filepath.Join(dir, "subsystem"))
		vars := []string{"ACTION=add", "DEVPATH=" + devpath, "SUBSYSTEM=" + filepath.Base(sub)}
		vars = append(vars, strings.Split(strings.TrimSpace(string(body)), "\n")...)
		vars = append(vars, "SEQNUM="+strconv.Itoa(1000+i))
		msgs = append(msgs, []byte("add@"+devpath+"\x00"+strings.Join(vars, "\x00")+"\x00"))
	}
	return msgs
}

// BenchmarkDispatch is the in-process cost of one coldplug event: parse the
// message, run OpenWrt's current hotplug.json, carry out what it emits
// (makedev; here without hotplug.d, so no process). The first pass creates the
// nodes, later ones find them (the cost of a replay). ns/op is per event.
func BenchmarkDispatch(b *testing.B) {
	testbin.RequireRoot(b) // mknod
	msgs := recordedEvents(b)
	tr := newTree(b)
	p, _, _ := newPlug(b, tr, currentRules(b, tr.root), Config{})
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		ev, err := uevent.Parse(msgs[i%len(msgs)])
		if err != nil {
			b.Fatal(err)
		}
		p.Handle(ev)
	}
	b.StopTimer()
	b.ReportMetric(float64(len(msgs)), "events/mix")
}

// BenchmarkRulesOnly is BenchmarkDispatch without the commands: parse and
// rule evaluation only.
func BenchmarkRulesOnly(b *testing.B) {
	msgs := recordedEvents(b)
	tr := newTree(b)
	r := currentRules(b, tr.root)
	b.ReportAllocs()
	b.ResetTimer()
	n := 0
	for i := range b.N {
		ev, err := uevent.Parse(msgs[i%len(msgs)])
		if err != nil {
			b.Fatal(err)
		}
		r.Run(ev.Map(), func(string, []string) { n++ })
	}
}
