package vm

import (
	"regexp"
	"strconv"
	"testing"

	"toybox-go/internal/vmtest"
)

// BenchmarkIdleRSSInVM: oneit as the kernel's init from an initramfs, the
// way a router or an initramfs-only system runs it, with its child asleep:
// its Rss and the anonymous part, from /proc/1/smaps_rollup, in KiB. The
// binary's pages live in the initramfs (tmpfs): the kernel maps 64 KiB
// around each fault there, not the large folios of the host's ext4.
func BenchmarkIdleRSSInVM(b *testing.B) {
	ir := vmtest.NewInitramfs(b)
	vmtest.AddBusybox(b, ir)
	ir.File("measure", []byte(`#!/bin/sh
mount -t proc proc /proc
sleep 2
echo "RSS $(grep '^Rss:' /proc/1/smaps_rollup) ANON $(grep '^Anonymous:' /proc/1/smaps_rollup)"
`), 0o755)
	re := regexp.MustCompile(`RSS Rss: +(\d+) kB ANON Anonymous: +(\d+) kB`)
	var rss, anon float64
	for i := 0; i < b.N; i++ {
		res := vmtest.Boot(b, vmtest.Machine{Initramfs: ir, Append: "rdinit=/sbin/oneit -- -p /measure"})
		m := re.FindStringSubmatch(res.Console)
		if m == nil {
			b.Fatalf("no Rss line on the console:\n%s", res.Console)
		}
		rss, _ = strconv.ParseFloat(m[1], 64)
		anon, _ = strconv.ParseFloat(m[2], 64)
	}
	b.ReportMetric(rss, "KiB-rss")
	b.ReportMetric(anon, "KiB-anon")
}
