package uevent

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

// msg builds a message from a header and variables, NUL-terminated as the
// kernel sends it.
func msg(header string, vars ...string) []byte {
	return []byte(header + "\x00" + strings.Join(vars, "\x00") + "\x00")
}

// A real event recorded from this machine's kernel (ip link add d0 type dummy).
var dummyAdd = msg("add@/devices/virtual/net/d0",
	"ACTION=add", "DEVPATH=/devices/virtual/net/d0", "SUBSYSTEM=net",
	"INTERFACE=d0", "IFINDEX=2", "SEQNUM=1234")

func TestParseKernelEvent(t *testing.T) {
	ev, err := Parse(dummyAdd)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Action != "add" || ev.DevPath != "/devices/virtual/net/d0" || ev.Subsystem != "net" || ev.Seqnum != 1234 {
		t.Errorf("got %+v", ev)
	}
	if v, ok := ev.Get("INTERFACE"); !ok || v != "d0" {
		t.Errorf("INTERFACE = %q, %v", v, ok)
	}
	want := []string{"ACTION=add", "DEVPATH=/devices/virtual/net/d0", "SUBSYSTEM=net", "INTERFACE=d0", "IFINDEX=2", "SEQNUM=1234"}
	if got := ev.Environ(); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("Environ = %q, want %q", got, want)
	}
	if m := ev.Map(); len(m) != 6 || m["IFINDEX"] != "2" {
		t.Errorf("Map = %v", m)
	}
	if ev.Dropped != 0 {
		t.Errorf("Dropped = %d", ev.Dropped)
	}
}

func TestParseKeepsEmptyAndEqualsInValues(t *testing.T) {
	ev, err := Parse(msg("change@/devices/x", "ACTION=change", "DEVPATH=/devices/x", "EMPTY=", "SYNTH_ARG_A=b=c"))
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := ev.Get("EMPTY"); !ok || v != "" {
		t.Errorf("EMPTY = %q, %v", v, ok)
	}
	if v, _ := ev.Get("SYNTH_ARG_A"); v != "b=c" {
		t.Errorf("SYNTH_ARG_A = %q", v)
	}
	if ev.Seqnum != 0 || ev.Subsystem != "" {
		t.Errorf("no SEQNUM/SUBSYSTEM should give zero values: %+v", ev)
	}
}

func TestParseHostile(t *testing.T) {
	big := append(msg("add@/devices/x", "ACTION=add", "DEVPATH=/devices/x"), bytes.Repeat([]byte("A=b\x00"), 64*1024/4)...)
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, ErrNoHeader},
		{"64 KiB", big, ErrTooLong},
		{"no NULs", []byte("add@/devices/x"), ErrMissing},
		{"no NULs, vars only", []byte("ACTION=add"), ErrNoHeader},
		{"missing ACTION", msg("add@/devices/x", "DEVPATH=/devices/x"), ErrMissing},
		{"empty ACTION", msg("add@/devices/x", "ACTION=", "DEVPATH=/devices/x"), ErrMissing},
		{"missing DEVPATH", msg("add@/devices/x", "ACTION=add"), ErrMissing},
		{"header without @", msg("add", "ACTION=add", "DEVPATH=/devices/x"), ErrNoHeader},
		{"header empty action", msg("@/devices/x", "ACTION=add", "DEVPATH=/devices/x"), ErrNoHeader},
		{"ACTION disagrees", msg("add@/devices/x", "ACTION=remove", "DEVPATH=/devices/x"), ErrMismatch},
		{"DEVPATH disagrees", msg("add@/devices/x", "ACTION=add", "DEVPATH=/devices/y"), ErrMismatch},
		{"DEVPATH climbs", msg("add@/devices/../../etc", "ACTION=add", "DEVPATH=/devices/../../etc"), ErrBadValue},
		{"DEVPATH relative", msg("add@devices/x", "ACTION=add", "DEVPATH=devices/x"), ErrBadValue},
		{"SEQNUM not a number", msg("add@/devices/x", "ACTION=add", "DEVPATH=/devices/x", "SEQNUM=12a"), ErrBadValue},
		{"libudev", append([]byte("libudev\x00"), make([]byte, 40)...), ErrLibudev},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev, err := Parse(tc.in)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Parse = %v, %v; want error %v", ev, err, tc.want)
			}
		})
	}
}

func TestParseDuplicateKeysKeepFirst(t *testing.T) {
	ev, err := Parse(msg("add@/devices/x", "ACTION=add", "DEVPATH=/devices/x",
		"DEVNAME=sda", "DEVNAME=../../etc/passwd", "ACTION=remove"))
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := ev.Get("DEVNAME"); v != "sda" || ev.Action != "add" {
		t.Errorf("DEVNAME = %q, ACTION = %q: the first value must win", v, ev.Action)
	}
	if ev.Dropped != 2 {
		t.Errorf("Dropped = %d, want 2", ev.Dropped)
	}
	// The environment handed to scripts must agree with what rules saw.
	n := 0
	for _, e := range ev.Environ() {
		if strings.HasPrefix(e, "DEVNAME=") {
			n++
		}
	}
	if n != 1 {
		t.Errorf("DEVNAME appears %d times in the environment", n)
	}
}

func TestParseBadNamesDropped(t *testing.T) {
	ev, err := Parse(msg("add@/devices/x", "ACTION=add", "DEVPATH=/devices/x",
		"NOEQUALS", "=value", "1ABC=x", "A B=x", "LD_OK=1", "low_er=1"))
	if err != nil {
		t.Fatal(err)
	}
	if ev.Dropped != 4 {
		t.Errorf("Dropped = %d, want 4 (%q)", ev.Dropped, ev.Environ())
	}
	for _, k := range []string{"LD_OK", "low_er"} {
		if _, ok := ev.Get(k); !ok {
			t.Errorf("%s dropped", k)
		}
	}
}

func TestParseNonUTF8Kept(t *testing.T) {
	name := "d\xff\xfe"
	ev, err := Parse(msg("add@/devices/virtual/net/"+name, "ACTION=add",
		"DEVPATH=/devices/virtual/net/"+name, "SUBSYSTEM=net", "INTERFACE="+name))
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := ev.Get("INTERFACE"); v != name {
		t.Errorf("INTERFACE = %q, want the bytes unchanged", v)
	}
}

func TestCleanDevPath(t *testing.T) {
	for p, want := range map[string]bool{
		"/devices/x": true, "/": false, "": false, "/devices/../x": false,
		"/devices/./x": false, "/devices//x": false, "/devices/x/": false, "/a\x00b": false,
	} {
		if got := CleanDevPath(p); got != want {
			t.Errorf("CleanDevPath(%q) = %v", p, got)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add(dummyAdd)
	f.Add(msg("add@/devices/x", "ACTION=add", "DEVPATH=/devices/x", "DEVNAME=a", "DEVNAME=b"))
	f.Add([]byte("add@/devices/x"))
	f.Add([]byte("libudev\x00\xfe\xed\xca\xfe"))
	f.Add(msg("remove@/devices/pci0000:00/0000:00:01.0/block/sda", "ACTION=remove",
		"DEVPATH=/devices/pci0000:00/0000:00:01.0/block/sda", "SUBSYSTEM=block", "MAJOR=8", "MINOR=0",
		"DEVNAME=sda", "DEVTYPE=disk", "SEQNUM=18446744073709551615"))
	f.Add(msg("add@/x", "ACTION=add", "DEVPATH=/x", "\xff=\xff"))
	f.Fuzz(func(t *testing.T, in []byte) {
		ev, err := Parse(in)
		if err != nil {
			if ev != nil {
				t.Fatal("event with error")
			}
			return
		}
		if ev.Action == "" || !CleanDevPath(ev.DevPath) {
			t.Fatalf("accepted %+v", ev)
		}
		seen := map[string]bool{}
		for _, v := range ev.Vars {
			if seen[v.Key] || !validKey([]byte(v.Key)) || strings.ContainsRune(v.Key+v.Value, 0) {
				t.Fatalf("bad var %q=%q in %q", v.Key, v.Value, in)
			}
			seen[v.Key] = true
		}
		if a, _ := ev.Get("ACTION"); a != ev.Action {
			t.Fatal("ACTION differs from the field")
		}
		_ = utf8.ValidString(ev.DevPath) // any bytes are allowed; must not panic
	})
}

func BenchmarkParse(b *testing.B) {
	in := msg("add@/devices/pci0000:00/0000:00:01.1/ata1/host0/target0:0:0/0:0:0:0/block/sda",
		"ACTION=add", "DEVPATH=/devices/pci0000:00/0000:00:01.1/ata1/host0/target0:0:0/0:0:0:0/block/sda",
		"SUBSYSTEM=block", "MAJOR=8", "MINOR=0", "DEVNAME=sda", "DEVTYPE=disk", "DISKSEQ=1", "SEQNUM=1500")
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if _, err := Parse(in); err != nil {
			b.Fatal(err)
		}
	}
}
