package hotplug

import (
	"errors"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"toybox-go/applets/internal/iocopy"
	"toybox-go/applets/internal/uevent"
	"toybox-go/applets/printf"
)

var errUnsafeFirmware = errors.New("name leaves the firmware directory")

// loadFirmware carries out [load-firmware DIR] for a firmware request event
// through the kernel's sysfs fallback interface: "1" to loading, the image
// to data, "0" to loading; "-1" to loading when the image cannot be given.
func (p *Plug) loadFirmware(dir string, ev *uevent.Event) {
	devpath, ok1 := ev.Get("DEVPATH")
	name, ok2 := ev.Get("FIRMWARE")
	if !ok1 || !ok2 {
		p.log.Warnf("load-firmware: no DEVPATH or FIRMWARE in %v", ev)
		return
	}
	if !uevent.CleanDevPath(devpath) {
		p.log.Errorf("load-firmware: DEVPATH %q refused", devpath)
		return
	}
	if dir == "/lib/firmware" {
		dir = p.cfg.Firmware
	}
	sysdir := filepath.Join(p.cfg.Sys, devpath)
	n, err := copyFirmware(dir, name, sysdir)
	if err != nil {
		p.log.Errorf("load-firmware %q: %v", name, err)
		if err := writeAttr(filepath.Join(sysdir, "loading"), "-1"); err != nil {
			p.log.Errorf("load-firmware %q: aborting the request: %v", name, err)
		}
		return
	}
	p.log.Infof("load-firmware: %s/%s, %d bytes", dir, name, n)
}

func copyFirmware(dir, name, sysdir string) (int64, error) {
	if name == "" || !filepath.IsLocal(name) || strings.ContainsRune(name, 0) {
		return 0, errUnsafeFirmware
	}
	root, err := openBeneath(dir)
	if err != nil {
		return 0, err
	}
	// Names and symbolic links that lead out of dir are refused.
	img, err := root.openFile(name, unix.O_RDONLY)
	root.Close()
	if err != nil {
		return 0, err
	}
	n, err := sendFirmware(img, dir, name, sysdir)
	img.Close()
	return n, err
}

// sendFirmware writes the image img (dir/name) to the request at sysdir.
func sendFirmware(img *os.File, dir, name, sysdir string) (int64, error) {
	if fi, err := img.Stat(); err != nil || !fi.Mode().IsRegular() {
		return 0, printf.Errorf("%s/%s: not a regular file", dir, name)
	}
	loading := filepath.Join(sysdir, "loading")
	if err := writeAttr(loading, "1"); err != nil {
		return 0, err
	}
	data, err := os.OpenFile(filepath.Join(sysdir, "data"), os.O_WRONLY, 0)
	if err != nil {
		return 0, err
	}
	// Plain writes (iocopy): the sysfs binary attribute does not take splice
	// or copy_file_range, which io.Copy would try through ReadFrom.
	n, err := iocopy.Copy(data, img)
	if cerr := data.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return n, printf.Errorf("writing %s/data: %w", sysdir, err)
	}
	return n, writeAttr(loading, "0")
}

func writeAttr(path, value string) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(value)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
