package pid2

import (
	"os"
	"path/filepath"

	"toybox-go/applets/internal/hotplug"
	"toybox-go/applets/internal/kmsg"
	"toybox-go/applets/internal/rules"
)

// EARLY is where procd opens its uevent listener and runs coldplug. pid2 does
// the same with applets/internal/hotplug when ETCDIR/hotplug.json exists: the
// listener runs in its own goroutines until SHUTDOWN, coldplug (fresh /dev,
// every device replayed, until settled) runs in the background while the main
// loop already serves signals, fd 3 and the heartbeat; INIT starts when it is
// done. A relaunched pid2 (booted exists) only listens: /dev is already made,
// and replaying every device would run the hotplug scripts a second time.
// Events that arrive while no pid2 runs are lost.
//
// hotplug runs its own children with os/exec and waits for them itself; pid2
// therefore reaps only the PIDs it started (see reap).

// startHotplug starts the listener and coldplug; done is called (from another
// goroutine) when EARLY may end.
func (d *daemon) startHotplug(relaunched bool, done func()) {
	file := filepath.Join(d.o.etcDir, "hotplug.json")
	if _, err := os.Stat(file); err != nil {
		d.log.Infof("hotplug: no %s, skipped", file)
		done()
		return
	}
	script, err := rules.LoadFile(file)
	if err != nil {
		d.log.Errorf("hotplug: %v, skipped", err)
		done()
		return
	}
	for _, w := range script.Warnings() {
		d.log.Warnf("hotplug: %v", w)
	}
	p, err := hotplug.New(hotplug.Config{Rules: script, Etc: d.o.etcDir, Log: kmsg.New("hotplug"),
		StartConsole: func(dev string) error { d.consoles <- dev; return nil }})
	if err != nil {
		d.log.Errorf("hotplug: %v, skipped", err)
		done()
		return
	}
	stop := make(chan struct{})
	d.hotplug = func() { close(stop); p.Close() }
	go func() {
		if err := p.Run(stop); err != nil {
			d.log.Errorf("hotplug: listener: %v", err)
		}
	}()
	if relaunched {
		done()
		return
	}
	go func() {
		if err := p.Coldplug(stop); err != nil {
			d.log.Errorf("coldplug: %v", err)
		}
		done()
	}()
}

// hotplugOnly is `pid2 -h RULES`: the listener with RULES until TERM or INT
// (procd -h), used by init during preinit.
func hotplugOnly(o options) int {
	log := kmsg.New("hotplug")
	if err := hotplug.Serve(o.hotplugRules, log); err != nil {
		log.Errorf("%v", err)
		return 1
	}
	return 0
}
