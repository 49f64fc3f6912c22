//go:build !oneit_only

package main

import (
	"toybox-go/applets/hotplugcall"
	"toybox-go/applets/initd"
	"toybox-go/applets/kmodloader"
	"toybox-go/applets/mountroot"
	"toybox-go/applets/oneit"
	"toybox-go/applets/pid2"
	"toybox-go/applets/reboot"
	"toybox-go/applets/udevtrigger"
)

// applets is sorted by name; multicall_test.go fails on an unsorted or duplicate
// entry.
var applets = []applet{
	{"halt", "sbin/halt", reboot.Usage, reboot.Main},
	{"hotplug-call", "sbin/hotplug-call", hotplugcall.Usage, hotplugcall.Main},
	{"init", "sbin/init", initd.Usage, initd.Main},
	{"insmod", "sbin/insmod", kmodloader.InsmodUsage, kmodloader.Main},
	{"kmodloader", "sbin/kmodloader", kmodloader.Usage, kmodloader.Main},
	{"lsmod", "sbin/lsmod", kmodloader.LsmodUsage, kmodloader.Main},
	{"modinfo", "sbin/modinfo", kmodloader.ModinfoUsage, kmodloader.Main},
	{"modprobe", "sbin/modprobe", kmodloader.ModprobeUsage, kmodloader.Main},
	{"mount_root", "sbin/mount_root", mountroot.Usage, mountroot.Main},
	{"oneit", "sbin/oneit", oneit.Usage, oneit.Main},
	{"pid2", "sbin/pid2", pid2.Usage, pid2.Main},
	{"poweroff", "sbin/poweroff", reboot.Usage, reboot.Main},
	{"reboot", "sbin/reboot", reboot.Usage, reboot.Main},
	{"rmmod", "sbin/rmmod", kmodloader.RmmodUsage, kmodloader.Main},
	{"udevtrigger", "sbin/udevtrigger", udevtrigger.Usage, udevtrigger.Main},
}
