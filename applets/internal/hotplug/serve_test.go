package hotplug

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"toybox-go/applets/internal/kmsg"
	"toybox-go/internal/netnstest"
	"toybox-go/internal/testbin"
)

// TestServe is the listener-only mode (pid2 -h FILE) on real events: rules
// loaded from the file (a warning logged with file:line), an exec run for a
// new interface, a clean return when told to stop.
func TestServe(t *testing.T) {
	sh := testbin.RequireTool(t, "sh")
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	execRan, err := readFIFO(out, 20*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	rulesFile := filepath.Join(dir, "hotplug-preinit.json")
	text := `[
	[ "if", [ "eq", "SUBSYSTEM", "net" ],
		[ "exec", ` + strconv.Quote(sh) + `, "-c", "echo $ACTION $INTERFACE > ` + out + `" ] ],
	[ "if", [ "frob", "X" ], [ "exec", "/bin/false" ] ],
]`
	if err := os.WriteFile(rulesFile, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	lb := &logBuf{}
	log := kmsg.NewWriter("hotplug", lb)
	err = netnstest.Do(t, func(ns *netnstest.NS) error {
		stop := make(chan struct{})
		helper := ns.Go(func(ns *netnstest.NS) error {
			defer close(stop)
			if err := lb.waitFor("listening for uevents", 20*time.Second); err != nil {
				return err
			}
			if err := ns.AddDummy("s0"); err != nil {
				return err
			}
			line, err := execRan()
			if err == nil && line != "add s0\n" {
				err = fmt.Errorf("the exec wrote %q, want \"add s0\\n\"", line)
			}
			return err
		})
		if err := ServeUntil(stop, rulesFile, log); err != nil {
			return fmt.Errorf("ServeUntil: %w", err)
		}
		return <-helper
	})
	if err != nil {
		t.Fatalf("%v\n%s", err, lb)
	}
	if !strings.Contains(lb.String(), "hotplug-preinit.json:4:") {
		t.Errorf("the rule warning is not logged with file:line:\n%s", lb)
	}
}

func TestServeMissingRules(t *testing.T) {
	err := ServeUntil(nil, filepath.Join(t.TempDir(), "none.json"), kmsg.NewWriter("hotplug", &logBuf{}))
	if err == nil || !strings.Contains(err.Error(), "none.json") {
		t.Errorf("got %v", err)
	}
}
