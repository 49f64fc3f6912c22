// Package uevent reads the kernel's device events: the parser of a uevent
// message, the NETLINK_KOBJECT_UEVENT socket that receives them (accepting only
// what the kernel itself sent), and the sysfs trigger that asks the kernel to
// replay "add" events for the devices that already exist (coldplug).
//
// A kernel uevent is one datagram:
//
//	ACTION@DEVPATH \0 ACTION=add \0 DEVPATH=/devices/... \0 SUBSYSTEM=net \0 SEQNUM=1234 \0 ...
//
// Parse turns it into an Event. The parser is strict about what the kernel
// always sends (the header, ACTION and DEVPATH agreeing with it, a numeric
// SEQNUM) and lenient about the rest: a variable with an unusable name is
// dropped, a repeated name keeps its first value (the value procd's rules
// see), and values are kept byte for byte (an interface may be named with
// any bytes but '/', ':' and white space, so non-UTF-8 is legitimate).
package uevent

import (
	"bytes"
	"errors"
	"path/filepath"
	"strconv"

	"toybox-go/applets/printf"
)

// MaxSize is the largest message accepted. The kernel builds the variables of
// one event in a 2 KiB buffer (UEVENT_BUFFER_SIZE) plus the header, so a longer
// datagram did not come from a kernel uevent.
const MaxSize = 8192

// Errors returned by Parse, wrapped with detail.
var (
	ErrTooLong  = errors.New("uevent longer than the kernel sends")
	ErrLibudev  = errors.New("libudev message, not a kernel uevent")
	ErrNoHeader = errors.New("no ACTION@DEVPATH header")
	ErrMissing  = errors.New("required variable missing")
	ErrMismatch = errors.New("variable disagrees with the header")
	ErrBadValue = errors.New("malformed value")
)

// Var is one KEY=VALUE pair of a message.
type Var struct {
	_          [0]func() // not comparable: no generated equality function
	Key, Value string
}

// Event is one parsed uevent.
type Event struct {
	Action    string // "add", "remove", "change", "move", "online", "offline", "bind", "unbind"
	DevPath   string // below /sys, e.g. /devices/virtual/net/lo
	Subsystem string // may be empty
	Seqnum    uint64 // 0 when the message had no SEQNUM
	// Vars holds every variable in message order, ACTION, DEVPATH, SUBSYSTEM and
	// SEQNUM included, each name once.
	Vars []Var
	// Dropped counts variables left out: unusable names and repeated names.
	Dropped int
}

// Get returns the value of the variable key. Get, String and
// Trigger.wanted are kept out of line (go:noinline): inlined at every call
// site, here and in hotplug, they cost the binary 2.4 KB more than the calls.
//
//go:noinline
func (e *Event) Get(key string) (string, bool) {
	for _, v := range e.Vars {
		if v.Key == key {
			return v.Value, true
		}
	}
	return "", false
}

// Map returns the variables as a map (a fresh one; the caller may change it).
func (e *Event) Map() map[string]string {
	m := make(map[string]string, len(e.Vars)+2)
	for _, v := range e.Vars {
		m[v.Key] = v.Value
	}
	return m
}

// Environ returns the variables as "KEY=VALUE" strings in message order.
func (e *Event) Environ() []string {
	env := make([]string, len(e.Vars))
	for i, v := range e.Vars {
		env[i] = v.Key + "=" + v.Value
	}
	return env
}

// String is a short description for log lines: "add /devices/... (net, seq 12)".
//
//go:noinline
func (e *Event) String() string {
	return printf.Sprintf("%s %s (%s, seq %d)", e.Action, e.DevPath, e.Subsystem, e.Seqnum)
}

// validKey reports whether k can be an environment variable name for a shell:
// [A-Za-z_][A-Za-z0-9_]*. The kernel only sends such names.
func validKey(k []byte) bool {
	if len(k) == 0 || k[0] >= '0' && k[0] <= '9' {
		return false
	}
	for _, c := range k {
		if !(c == '_' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

var libudevMagic = []byte("libudev\x00")

// Parse parses one uevent message. It never keeps a reference to msg.
func Parse(msg []byte) (*Event, error) {
	if len(msg) > MaxSize {
		return nil, printf.Errorf("%w: %d bytes", ErrTooLong, len(msg))
	}
	if bytes.HasPrefix(msg, libudevMagic) {
		return nil, ErrLibudev
	}
	header, rest, _ := bytes.Cut(msg, []byte{0})
	hAction, hPath, ok := bytes.Cut(header, []byte{'@'})
	if !ok || len(hAction) == 0 || len(hPath) == 0 || bytes.IndexByte(header, '=') >= 0 {
		return nil, ErrNoHeader
	}
	ev := &Event{Vars: make([]Var, 0, bytes.Count(rest, []byte{0})+1)}
	for len(rest) > 0 {
		var piece []byte
		piece, rest, _ = bytes.Cut(rest, []byte{0})
		if len(piece) == 0 {
			continue
		}
		k, v, ok := bytes.Cut(piece, []byte{'='})
		if !ok || !validKey(k) {
			ev.Dropped++
			continue
		}
		key := string(k)
		if _, dup := ev.Get(key); dup {
			ev.Dropped++
			continue
		}
		ev.Vars = append(ev.Vars, Var{Key: key, Value: string(v)})
	}

	var have bool
	if ev.Action, have = ev.Get("ACTION"); !have || ev.Action == "" {
		return nil, printf.Errorf("%w: ACTION", ErrMissing)
	}
	if ev.DevPath, have = ev.Get("DEVPATH"); !have || ev.DevPath == "" {
		return nil, printf.Errorf("%w: DEVPATH", ErrMissing)
	}
	if ev.Action != string(hAction) {
		return nil, printf.Errorf("%w: ACTION=%q, header %q", ErrMismatch, ev.Action, hAction)
	}
	if ev.DevPath != string(hPath) {
		return nil, printf.Errorf("%w: DEVPATH=%q, header %q", ErrMismatch, ev.DevPath, hPath)
	}
	if !CleanDevPath(ev.DevPath) {
		return nil, printf.Errorf("%w: DEVPATH=%q", ErrBadValue, ev.DevPath)
	}
	ev.Subsystem, _ = ev.Get("SUBSYSTEM")
	if s, ok := ev.Get("SEQNUM"); ok {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return nil, printf.Errorf("%w: SEQNUM=%q", ErrBadValue, s)
		}
		ev.Seqnum = n
	}
	return ev, nil
}

// CleanDevPath reports whether p is a sysfs device path the kernel could have
// sent: absolute, clean (no "..", ".", empty component or trailing slash) and
// without NUL, so that "/sys" + p stays below /sys.
func CleanDevPath(p string) bool {
	return len(p) > 1 && p[0] == '/' && filepath.Clean(p) == p && !containsNUL(p)
}

func containsNUL(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == 0 {
			return true
		}
	}
	return false
}
