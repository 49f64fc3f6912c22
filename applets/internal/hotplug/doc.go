// Package hotplug is the device half of the boot, procd's plug/ in Go: it
// listens to the kernel's uevents, runs the OpenWrt rules (/etc/hotplug.json,
// json_script) for each one and carries out the commands the rules emit; it
// also does coldplug (a fresh /dev, then every existing device replayed) and
// knows when coldplug has settled.
//
// # API (for pid2)
//
//	p, err := hotplug.New(hotplug.Config{Rules: script})  // opens the netlink socket
//	go p.Run(stop)           // receive and dispatch until stop is closed
//	err = p.Coldplug(stop)   // fresh /dev, trigger, wait until settled
//	...
//	p.Close()                // stop the queue, kill a running child
//
// New opens the socket at once, so events are buffered in the kernel from then
// on: start Run before or right after Coldplug (Coldplug waits for events that
// only Run dispatches; it returns with a timeout error if Run never runs).
// Close Run's stop channel before Close. Serve(rulesFile, log) is the whole
// listener-only mode, `pid2 -h FILE` (procd -h): load the rules (warnings
// logged with file:line), run until SIGTERM or SIGINT, no coldplug;
// ServeUntil is the same until a channel is closed. Also: WaitIdle (the queue
// has drained), Retrigger (replay all devices), SourceStats (socket counters:
// accepted, foreign, malformed, overflows).
//
// # Commands
//
// The rules emit makedev, rm, exec, button, load-firmware and start-console
// (procd's set; unknown names are logged at debug level and ignored).
//
//   - makedev PATH MODE [GROUP] and rm PATH act at once, in the dispatching
//     goroutine. PATH must be /dev/NAME: it is created under Config.Dev, parent
//     directories 0755, mode exactly MODE (octal, umask ignored), group looked
//     up by name in Config.Etc/group. Nothing is made without MAJOR, MINOR and
//     SUBSYSTEM (block gives a block device, anything else a character device).
//     An existing path is never replaced: the first rule that creates a node
//     decides its mode, as in procd. A path or DEVNAME that is absolute, holds
//     "..", a NUL or an empty component, or leads outside the dev root through a
//     symbolic link is refused and logged.
//   - exec ARGV..., button ARGV..., load-firmware DIR and start-console DEV go
//     to one queue and run one at a time in event order, as in procd, each
//     bounded by Config.ExecTimeout (procd has no bound, so one hung script
//     blocks all hotplug work): a child still running then is killed with its
//     process group and logged. Children get the daemon's environment plus the
//     event's variables, stdin /dev/null, and their output is logged line by
//     line.
//   - button also cancels the pending timeout of the same BUTTON before it
//     starts; when the child exits with a non-zero code N, the same argv is
//     queued again N seconds later with BUTTON, ACTION=timeout and SEEN=N
//     (the reset button's "held for 5 s" logic of /etc/rc.button/reset).
//   - load-firmware DIR writes DIR/FIRMWARE through the kernel's sysfs
//     fallback interface (Sys/DEVPATH/loading and data), in-process. DIR
//     /lib/firmware means Config.Firmware. A FIRMWARE name that leaves the
//     firmware directory is refused; a refused or missing file is reported to
//     the kernel by writing -1 to loading, so the driver does not wait for
//     its timeout (procd writes an empty image).
//   - start-console DEV calls Config.StartConsole (pid2 starts the inittab
//     askfirst/respawn entries for it).
//
// # Cost per event
//
// Under qemu a process costs about 100 ms to start and coldplug replays
// hundreds of events, so the executor decides in-process what an event needs.
// An exec of exactly [.../hotplug-call SUBSYSTEM] (what hotplug.json emits)
// starts nothing when Etc/hotplug.d/SUBSYSTEM has no regular, non-hidden file;
// and when that hotplug-call is this binary (Config.Self), /bin/sh is started
// directly with hotplug-call's environment instead of the binary that would
// start it. Any other hotplug-call (base-files' script) is executed as given.
// An exec of exactly [/bin/ln -s TARGET /dev/NAME] (four of them for
// /dev/null's event in OpenWrt's hotplug.json) makes the symbolic link below
// Config.Dev in-process, failing like ln when NAME exists.
//
// # Coldplug and settling
//
// Coldplug mounts a fresh tmpfs on Config.Dev (unless Config.KeepDev), makes
// /dev/null (c 1 3, 0666) before anything else can create it as a file (procd's
// 2026 bug), brings the existing devpts instance over to the new /dev/pts (so
// open terminals keep working; a new devpts instance when that is impossible),
// links /dev/shm to /tmp/shm, then runs the trigger (uevent.Trigger: every
// device with a uevent file). Settled means: the trigger has returned, every
// event up to the kernel's uevent_seqnum read after the trigger has been
// dispatched, and the queue is empty and idle. Events the kernel sends to
// other network namespaces also consume sequence numbers; when the last ones
// are never seen here, Config.Quiet without any event or command ends the
// wait instead (procd's only rule: 500 ms without a command). Config.
// SettleTimeout bounds it all. An ENOBUFS from the socket (events lost) is
// logged and answered with a new trigger, which the settle wait includes.
package hotplug
