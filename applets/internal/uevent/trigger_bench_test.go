package uevent

import (
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/unix"

	"toybox-go/internal/netnstest"
)

// BenchmarkTriggerWrite measures writing "add" to the uevent files of 400 net
// devices in a private network namespace, with a listener draining the
// socket, one writer against several. It decided that Trigger writes
// sequentially (see the package doc of the udevtrigger applet).
func BenchmarkTriggerWrite(b *testing.B) {
	const devices = 400
	err := netnstest.Do(b, func(ns *netnstest.NS) error {
		// A mount namespace for this thread only, to mount the sysfs that
		// shows this network namespace's devices.
		if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
			return fmt.Errorf("unshare(CLONE_NEWNS): %w", err)
		}
		if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
			return err
		}
		sys := b.TempDir()
		if err := unix.Mount("sysfs", sys, "sysfs", 0, ""); err != nil {
			return err
		}
		defer unix.Unmount(sys, unix.MNT_DETACH)
		var batch strings.Builder
		for i := range devices / 2 {
			fmt.Fprintf(&batch, "link add t%d type veth peer name t%dp\n", i, i)
		}
		cmd := exec.Command("ip", "-batch", "-")
		cmd.Stdin = strings.NewReader(batch.String())
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("ip -batch: %v %s", err, out)
		}
		files, err := (&Trigger{Sys: sys, Subsystems: []string{"net"}}).Devices()
		if err != nil {
			return err
		}
		if len(files) < devices {
			return fmt.Errorf("%d devices", len(files))
		}
		c, err := Listen(0, nil)
		if err != nil {
			return err
		}
		defer c.Close()
		go func() {
			for {
				if _, err := c.Receive(); err != nil && !strings.Contains(err.Error(), "buffer") {
					return
				}
			}
		}()
		// Sub-benchmarks and worker goroutines run on other threads, outside
		// this mount namespace: they reach the files through a directory fd.
		dirfd, err := unix.Open(sys, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer unix.Close(dirfd)
		for i, f := range files {
			files[i] = strings.TrimPrefix(f, sys+"/")
		}
		for _, workers := range []int{1, 2, 4} {
			b.Run(fmt.Sprintf("writers=%d", workers), func(b *testing.B) {
				for b.Loop() {
					if err := writeParallel(dirfd, files, workers); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(files)), "ns/device")
			})
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
}

func writeParallel(dirfd int, files []string, workers int) error {
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(files); i += workers {
				fd, err := unix.Openat(dirfd, files[i], unix.O_WRONLY|unix.O_CLOEXEC, 0)
				if err == nil {
					_, err = unix.Write(fd, []byte("add"))
					unix.Close(fd)
				}
				if err != nil {
					errs <- fmt.Errorf("%s: %w", files[i], err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}
