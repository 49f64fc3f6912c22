package pid2

import "os"

// The hotplug hook. EARLY is where procd opens its uevent listener and runs
// coldplug; the hotplug helper package (applets/internal/hotplug) plugs in
// here: startHotplug runs coldplug, then keeps the listener running until
// SHUTDOWN (d.hotplug cancels it), and hotplugOnly serves `pid2 -h RULES`.

func (d *daemon) startHotplug() {
	d.log.Infof("hotplug: not built in, skipped")
}

func hotplugOnly(o options) int {
	return errorf(os.Stderr, "-h %s: hotplug is not built in", o.hotplugRules)
}
