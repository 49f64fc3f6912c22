// Package fsroot finds OpenWrt's writable data volume (rootfs_data) and makes an
// overlay of it the root file system, the way fstools' mount_root does: volume
// drivers (GPT partition name, file-system label, UBI volume, MTD partition,
// the space after a squashfs root image on its disk), the .fs_state trust
// marker, the wipe of an untrusted overlay, the overlay mount + pivot_root that
// leaves the old root on /rom, and extroot from /etc/config/fstab. It also
// resolves root= specs (LABEL=, UUID=, PARTLABEL=, PARTUUID=) for init.
//
// Every path is taken below the System's roots, so finding volumes and the
// state logic run on fake trees in tests. The pivot itself only makes sense
// with Root "/" (pivot_root(2) acts on the caller's root).
package fsroot

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"toybox-go/applets/internal/cmdline"
	"toybox-go/applets/internal/dirlist"
	"toybox-go/applets/internal/gpt"
	"toybox-go/applets/internal/superblock"
	"toybox-go/applets/printf"
)

// DataName is the volume name OpenWrt gives the writable partition.
const DataName = "rootfs_data"

// System holds the roots of the tree mount_root works on.
type System struct {
	Root string // the root file system, "/" in production
	Sys  string // sysfs, "/sys"
	Proc string // procfs, "/proc"
	Dev  string // device nodes, "/dev"
	// Cmdline is the kernel command line; nil means read Proc/cmdline.
	Cmdline []string
	// Logf receives one line per decision (nil: discarded).
	Logf func(format string, args ...any)
}

// Default is the production system.
func Default() *System { return &System{Root: "/", Sys: "/sys", Proc: "/proc", Dev: "/dev"} }

// logf and Path are kept out of line (go:noinline): they are called at some
// twenty sites each, and each inlined copy costs more than the call.
//
//go:noinline
func (s *System) logf(format string, args ...any) {
	if s.Logf != nil {
		s.Logf(format, args...)
	}
}

// Path joins p below Root.
//
//go:noinline
func (s *System) Path(p string) string { return filepath.Join(s.Root, p) }

// Param returns the value of key=value on the kernel command line (the last
// one wins, as for the kernel), and whether it is there. A bare word counts
// with an empty value.
func (s *System) Param(key string) (string, bool) {
	words := s.Cmdline
	if words == nil {
		words = cmdline.Read(filepath.Join(s.Proc, "cmdline"))
	}
	return cmdline.Lookup(words, key)
}

// Volume is a found data (or root) volume.
type Volume struct {
	_      [0]func() // not comparable: no generated equality function
	Name   string    // the name looked for
	Driver string    // "partname", "gpt", "label", "ubi" or "mtd"
	Device string    // node to mount ("mtdN" for an MTD without mtdblock)
	Probe  string    // node to read the magic from (an MTD's character device)
	Size   int64     // bytes, 0 if unknown
	Info   superblock.Info
}

// volume is a Volume whose node is both mounted and probed. Out of line
// (go:noinline): each inlined copy of the allocation costs more than the call.
//
//go:noinline
func volume(name, driver, node string, size int64) *Volume {
	return &Volume{Name: name, Driver: driver, Device: node, Probe: node, Size: size}
}

func (v *Volume) String() string {
	return printf.Sprintf("%s (%s, found by %s)", v.Device, v.Type(), v.Driver)
}

// Type is the identified content, "unknown" for unrecognised data.
func (v *Volume) Type() string {
	if v.Info.Type == superblock.Unknown {
		return "unknown"
	}
	return string(v.Info.Type)
}

// MountType is the file system MountData mounts v as, "" if none: what the
// probe found, and jffs2 for an MTD partition holding none (erased flash or
// 0xdeadc0de: the kernel's jffs2 formats it as it mounts it; anything else
// it refuses to erase unless it finds jffs2 nodes). Never for an MTD holding
// a UBI image: that wants attaching, and jffs2 would treat it as garbage.
func (v *Volume) MountType() string {
	t := v.Info.Type.MountType()
	if t == "" && v.Driver == "mtd" && v.Info.Type != superblock.UBI {
		return "jffs2"
	}
	return t
}

// ErrNotFound means no driver found the volume.
var ErrNotFound = errors.New("volume not found")

// FindVolume asks the drivers in fstools' order of priority: the FIT image's
// read-write part (/dev/fitrw, for rootfs_data only), GPT partition name
// (the kernel's PARTNAME, then our own GPT reader), then file-system label (ext*,
// f2fs, btrfs: our addition, for disks without GPT), UBI volume, MTD partition.
func (s *System) FindVolume(name string) (*Volume, error) {
	if v := s.byFIT(name); v != nil {
		return s.identify(v)
	}
	devs := s.blockDevices()
	if ignore, _ := s.Param("fstools_ignore_partname"); ignore != "1" {
		scope := s.partnameScope(devs)
		if v := s.byPartName(scope, name); v != nil {
			return s.identify(v)
		}
		if v := s.byGPT(scope, name); v != nil {
			return s.identify(v)
		}
	}
	if v := s.byLabel(devs, name); v != nil {
		return v, nil
	}
	if v := s.byUBI(name); v != nil {
		return s.identify(v)
	}
	if v := s.byMTD(name); v != nil {
		return s.identify(v)
	}
	if v := s.byRootdisk(devs, name); v != nil {
		return s.identify(v)
	}
	return nil, printf.Errorf("%s: %w", name, ErrNotFound)
}

func (s *System) identify(v *Volume) (*Volume, error) {
	if v.Driver == "ubi" {
		v.Info = superblock.Info{Type: superblock.UBIFS} // as fstools: always ubifs
		return v, nil
	}
	var err error
	if v.Info, err = probePath(v.Probe); err != nil {
		return v, printf.Errorf("identifying %s: %w", v.Probe, err)
	}
	return v, nil
}

// probePath identifies what the device or file p holds.
func probePath(p string) (superblock.Info, error) {
	f, err := os.Open(p)
	if err != nil {
		return superblock.Info{}, err
	}
	inf, err := superblock.Probe(f)
	f.Close()
	return inf, err
}

// byFIT is fstools' fit driver: boards booting a FIT image with the uImage.FIT
// block driver get the writable area as /dev/fitrw.
func (s *System) byFIT(name string) *Volume {
	if name != DataName {
		return nil
	}
	n := filepath.Join(s.Dev, "fitrw")
	if _, err := os.Stat(n); err != nil {
		return nil
	}
	size := int64(readInt(s.Sys, "class", "block", "fitrw", "size")) * 512
	return volume(name, "fit", n, size)
}

// blockDev is one entry of /sys/class/block.
type blockDev struct {
	_            [0]func() // not comparable: no generated equality function
	name, sysdir string
	devname      string // DEVNAME from uevent
	partname     string // PARTNAME from uevent (GPT name)
	partition    int    // partition number, 0 for a whole disk
	start        int64  // first sector of a partition
	size         int64  // bytes
	dev          string // "MAJ:MIN"
}

func (s *System) blockDevices() []*blockDev {
	dir := filepath.Join(s.Sys, "class", "block")
	ents, err := dirlist.Read(dir)
	if err != nil {
		s.logf("listing block devices: %v", err)
		return nil
	}
	var out []*blockDev
	for _, e := range ents {
		name := e.Name()
		d := &blockDev{name: name, sysdir: filepath.Join(dir, name)}
		uevent, _ := os.ReadFile(filepath.Join(d.sysdir, "uevent"))
		for _, line := range strings.Split(string(uevent), "\n") {
			switch k, v, _ := strings.Cut(line, "="); k {
			case "DEVNAME":
				d.devname = v
			case "PARTNAME":
				d.partname = v
			}
		}
		if d.devname == "" {
			d.devname = d.name
		}
		d.partition = readInt(d.sysdir, "partition")
		d.start = int64(readInt(d.sysdir, "start"))
		d.size = int64(readInt(d.sysdir, "size")) * 512
		d.dev = readLine(d.sysdir, "dev")
		out = append(out, d)
	}
	return out // in name order: dirlist.Read sorts
}

// partnameScope is where fstools looks for a partition by name: with
// root=/dev/DISKpN only on that disk (so an OpenWrt USB stick plugged into
// the box is not taken), with another root= (PARTUUID=...) nowhere unless
// fstools_partname_fallback_scan=1, without root= everywhere.
func (s *System) partnameScope(devs []*blockDev) []*blockDev {
	root, ok := s.Param("root")
	if !ok || root == "" {
		return devs
	}
	if !strings.HasPrefix(root, "/dev/") {
		if v, _ := s.Param("fstools_partname_fallback_scan"); v == "1" {
			return devs
		}
		return nil
	}
	disk := diskOf(strings.TrimPrefix(root, "/dev/"))
	var out []*blockDev
	for _, d := range devs {
		if d.name == disk {
			out = append(out, d)
			out = append(out, partitionsOf(devs, d)...)
		}
	}
	return out
}

// diskOf strips a partition suffix: sda2 -> sda, mmcblk0p2 -> mmcblk0.
func diskOf(name string) string {
	t := strings.TrimRight(name, "0123456789")
	if t == name || t == "" {
		return name
	}
	if strings.HasSuffix(t, "p") && len(t) > 1 && t[len(t)-2] >= '0' && t[len(t)-2] <= '9' {
		return t[:len(t)-1]
	}
	return t
}

// node returns the device node of d, creating it from sysfs's MAJ:MIN when it
// is missing (a device that appeared after /dev was populated, with no hotplug
// daemon to make it).
func (s *System) node(d *blockDev) string {
	return s.makeNode(filepath.Join(s.Dev, d.devname), unix.S_IFBLK, d.dev)
}

// makeNode returns the device node p, first creating it (type S_IFBLK or
// S_IFCHR) from majmin ("MAJ:MIN" as sysfs's dev files hold it) if it is
// missing and majmin is known.
func (s *System) makeNode(p string, typ uint32, majmin string) string {
	if _, err := os.Stat(p); err == nil {
		return p
	}
	maj, min, ok := ParseDev(majmin)
	if !ok {
		return p
	}
	_ = os.MkdirAll(filepath.Dir(p), 0o755)
	if err := unix.Mknod(p, typ|0o600, int(unix.Mkdev(maj, min))); err != nil {
		s.logf("creating %s: %v", p, err)
	} else {
		s.logf("created %s (%s) from sysfs", p, majmin)
	}
	return p
}

func (s *System) byPartName(devs []*blockDev, name string) *Volume {
	for _, d := range devs {
		if d.partition > 0 && d.partname == name {
			n := s.node(d)
			return volume(name, "partname", n, d.size)
		}
	}
	return nil
}

// byGPT reads the GPT of every whole disk and maps a partition named name to
// the kernel's partition device, or, when the kernel made none (no GPT support
// built in, a loop disk without partition scanning), to a loop device over the
// partition's sectors. Out of line (go:noinline), like byLabel, skipDisk and
// RootIsRootfs: each is called from a few places, and the inlined copies
// (with their closures) cost more than the calls.
//
//go:noinline
func (s *System) byGPT(devs []*blockDev, name string) *Volume {
	return s.gptMatch(devs, name, func(p *gpt.Partition) bool { return p.Name == name })
}

func (s *System) gptMatch(devs []*blockDev, name string, match func(*gpt.Partition) bool) *Volume {
	for _, disk := range devs {
		if disk.partition != 0 || disk.size == 0 || skipDisk(disk.name) {
			continue
		}
		node := s.node(disk)
		f, err := os.Open(node)
		if err != nil {
			continue
		}
		tab, err := gpt.Read(f, disk.size)
		f.Close()
		if err != nil {
			continue
		}
		var p *gpt.Partition
		for i := range tab.Partitions {
			if match(&tab.Partitions[i]) {
				p = &tab.Partitions[i]
				break
			}
		}
		if p == nil {
			continue
		}
		size := int64(p.LastLBA-p.FirstLBA+1) * int64(tab.SectorSize)
		for _, d := range partitionsOf(devs, disk) {
			if d.partition == p.Number {
				n := s.node(d)
				return volume(name, "gpt", n, d.size)
			}
		}
		loop, err := s.LoopRange(node, int64(p.FirstLBA)*int64(tab.SectorSize), size)
		if err != nil {
			s.logf("%s: GPT partition %d is %s, but no device for it: %v", disk.name, p.Number, name, err)
			continue
		}
		s.logf("%s: GPT partition %d (%s) has no kernel device: using %s", disk.name, p.Number, name, loop)
		return volume(name, "gpt", loop, size)
	}
	return nil
}

func partitionsOf(devs []*blockDev, disk *blockDev) []*blockDev {
	var out []*blockDev
	for _, d := range devs {
		if d.partition == 0 {
			continue
		}
		// A partition's sysfs directory lives inside its disk's.
		if _, err := os.Stat(filepath.Join(disk.sysdir, d.name)); err == nil {
			out = append(out, d)
		}
	}
	return out
}

// skipDisk leaves out devices that hold no file system worth probing.
//
//go:noinline
func skipDisk(name string) bool {
	for _, p := range []string{"ram", "zram", "mtdblock", "ubiblock", "nbd", "sr", "fd"} {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// byLabel finds an ext*, f2fs, btrfs or EROFS file system labelled name.
//
//go:noinline
func (s *System) byLabel(devs []*blockDev, name string) *Volume {
	return s.probeMatch(devs, name, func(inf *superblock.Info) bool {
		switch inf.Type {
		case superblock.Ext2, superblock.Ext3, superblock.Ext4, superblock.F2FS, superblock.Btrfs, superblock.EROFS:
			return inf.Label == name
		}
		return false
	})
}

// probeMatch probes every block device and returns the first whose superblock
// matches.
func (s *System) probeMatch(devs []*blockDev, name string, match func(*superblock.Info) bool) *Volume {
	for _, d := range devs {
		if d.size == 0 || skipDisk(d.name) {
			continue
		}
		n := s.node(d)
		v, err := s.identify(volume(name, "label", n, d.size))
		if err != nil {
			continue
		}
		if match(&v.Info) {
			return v
		}
	}
	return nil
}

// FindDevice resolves a root= value: /dev/NAME, LABEL=, UUID=, PARTLABEL= or
// PARTUUID= (GPT). It returns nil when the device is not there (yet).
func (s *System) FindDevice(spec string) (*Volume, error) {
	devs := s.blockDevices()
	var v *Volume
	key, val, _ := strings.Cut(spec, "=")
	switch key {
	case "LABEL":
		return s.byLabel(devs, val), nil
	case "UUID":
		val = lowerASCII(val) // the UUIDs and GUIDs we read are lower-case hex
		return s.probeMatch(devs, spec, func(inf *superblock.Info) bool { return inf.UUID == val }), nil
	case "PARTLABEL":
		if v = s.byPartName(devs, val); v == nil {
			v = s.byGPT(devs, val)
		}
	case "PARTUUID":
		val = lowerASCII(val)
		v = s.gptMatch(devs, spec, func(p *gpt.Partition) bool { return p.GUID == val })
	default:
		name := strings.TrimPrefix(spec, "/dev/")
		for _, d := range devs {
			if d.devname == name || d.name == name {
				n := s.node(d)
				v = volume(spec, "name", n, d.size)
				break
			}
		}
	}
	if v == nil {
		return nil, nil
	}
	return s.identify(v)
}

// byUBI finds /sys/class/ubi/ubiN_M whose name is name, when the kernel has
// ubifs and the volume is not exposed as a ubiblock (then it holds a read-only
// image, not an overlay).
func (s *System) byUBI(name string) *Volume {
	if !s.HasFilesystem("ubifs") {
		return nil
	}
	dir := filepath.Join(s.Sys, "class", "ubi")
	ents, _ := dirlist.Read(dir)
	for _, e := range ents {
		vol := e.Name()
		if !strings.Contains(vol, "_") {
			continue // ubiN itself, or ubi_ctrl
		}
		if readLine(dir, vol, "name") != name {
			continue
		}
		if exists(filepath.Join(s.Dev, "ubiblock"+strings.TrimPrefix(vol, "ubi"))) {
			continue
		}
		// A volume made or attached after /dev was populated (ubiattach,
		// ubimkvol in preinit) has no node unless a hotplug daemon made one.
		n := s.makeNode(filepath.Join(s.Dev, vol), unix.S_IFCHR, readLine(dir, vol, "dev"))
		return volume(name, "ubi", n, int64(readInt(dir, vol, "data_bytes")))
	}
	return nil
}

// ubiUnusable explains why the MTD partition v, which holds UBI, gives no
// volume to mount: not attached, attached without ubifs in the kernel, or
// attached without a volume of that name.
func (s *System) ubiUnusable(v *Volume) error {
	if ubi := s.ubiOfMTD(strings.TrimPrefix(filepath.Base(v.Probe), "mtdblock")); ubi != "" {
		if !s.HasFilesystem("ubifs") {
			return printf.Errorf("%s holds UBI, attached as %s, but the kernel has no ubifs file system (not built in, module not loaded?)", v.Device, ubi)
		}
		return printf.Errorf("%s holds UBI, attached as %s, but it has no volume named %s", v.Device, ubi, v.Name)
	}
	return printf.Errorf("%s holds a UBI image that is not attached: attach it (ubi.mtd=%s on the kernel command line, or ubiattach) and name its volume %s", v.Device, v.Name, v.Name)
}

// ubiOfMTD returns the UBI device ("ubi0") attached to MTD device mtd
// ("mtd3", or just "3"), "" if none.
func (s *System) ubiOfMTD(mtd string) string {
	num := strings.TrimPrefix(mtd, "mtd")
	if _, err := strconv.Atoi(num); err != nil {
		return ""
	}
	dir := filepath.Join(s.Sys, "class", "ubi")
	ents, _ := dirlist.Read(dir)
	for _, e := range ents {
		ubi := e.Name()
		if strings.Contains(ubi, "_") || !strings.HasPrefix(ubi, "ubi") {
			continue // a volume, or ubi_ctrl
		}
		if readLine(dir, ubi, "mtd_num") == num {
			return ubi
		}
	}
	return ""
}

// byMTD finds the /proc/mtd line `mtdN: SIZE ERASESIZE "name"`.
func (s *System) byMTD(name string) *Volume {
	table := filepath.Join(s.Proc, "mtd")
	b, err := os.ReadFile(table)
	if err != nil {
		return nil
	}
	for i, text := range strings.Split(string(b), "\n") {
		line := i + 1
		dev, rest, ok := strings.Cut(text, ":")
		if !ok || !strings.HasPrefix(dev, "mtd") {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) < 3 || strings.Trim(strings.Join(fields[2:], " "), `"`) != name {
			continue
		}
		idx, err := strconv.Atoi(strings.TrimPrefix(dev, "mtd"))
		if err != nil {
			s.logf("%s:%d: bad device %q", table, line, dev)
			continue
		}
		size, _ := strconv.ParseInt(fields[0], 16, 64)
		num := strconv.Itoa(idx)
		chr, blk := "mtd"+num, "mtdblock"+num
		probe := filepath.Join(s.Dev, chr)
		if _, err := os.Stat(probe); err != nil {
			if alt := filepath.Join(s.Dev, "mtd", num); exists(alt) {
				probe = alt
			} else {
				// A partition that appeared after /dev was populated (a
				// module: block2mtd, a late flash driver) has no nodes yet.
				probe = s.makeNode(probe, unix.S_IFCHR, readLine(s.Sys, "class", "mtd", chr, "dev"))
			}
		}
		blkNode := s.makeNode(filepath.Join(s.Dev, blk), unix.S_IFBLK, readLine(s.Sys, "class", "block", blk, "dev"))
		if !exists(probe) {
			probe = blkNode
		}
		source := blkNode
		if !exists(blkNode) && exists(probe) {
			// No mtdblock (kernel without MTD_BLOCK, module not loaded):
			// jffs2 also mounts an MTD device given as "mtdN".
			source = chr
		}
		return &Volume{Name: name, Driver: "mtd", Device: source, Probe: probe, Size: size}
	}
	return nil
}

// rootdiskAlign is where fstools puts the data area after a read-only image.
const rootdiskAlign = 64 << 10

// byRootdisk is fstools' last resort, used by x86 and other disk images: the
// block device holding the read-only root (/rom once pivoted, else /) starts
// with a squashfs or EROFS image, and the space after it, from the next 64 KiB
// boundary on, is the data volume, reached through a loop device.
func (s *System) byRootdisk(devs []*blockDev, name string) *Volume {
	majmin := ""
	for _, m := range s.mountinfo() {
		if (m.Target == "/rom" || m.Target == s.Root) && (m.FSType == "squashfs" || m.FSType == "erofs") {
			majmin = m.Dev
			if m.Target == "/rom" {
				break
			}
		}
	}
	if majmin == "" {
		return nil
	}
	for _, d := range devs {
		if d.dev != majmin {
			continue
		}
		node := s.node(d)
		inf, err := probePath(node)
		if err != nil || (inf.Type != superblock.Squashfs && inf.Type != superblock.EROFS) || inf.Size <= 0 {
			return nil
		}
		off := (inf.Size + rootdiskAlign - 1) / rootdiskAlign * rootdiskAlign
		if d.size <= off {
			s.logf("%s: no room after the %s image for %s", d.name, string(inf.Type), name)
			return nil
		}
		loop, err := s.LoopRange(node, off, d.size-off)
		if err != nil {
			s.logf("%s: %v", d.name, err)
			return nil
		}
		return volume(name, "rootdisk", loop, d.size-off)
	}
	return nil
}

// HasFilesystem reports whether /proc/filesystems lists fstype.
func (s *System) HasFilesystem(fstype string) bool {
	b, err := os.ReadFile(filepath.Join(s.Proc, "filesystems"))
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 0 && f[len(f)-1] == fstype {
			return true
		}
	}
	return false
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// lowerASCII maps A-Z to a-z: for hex text, what strings.EqualFold would
// match, without its Unicode folding tables.
func lowerASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// readLine returns the trimmed contents of the file at the path joined from
// elem (a sysfs attribute), "" if it cannot be read.
func readLine(elem ...string) string {
	b, _ := os.ReadFile(filepath.Join(elem...))
	return strings.TrimSpace(string(b))
}

// readInt is readLine as a number, 0 if it is none.
func readInt(elem ...string) int {
	n, _ := strconv.Atoi(readLine(elem...))
	return n
}

// ParseDev parses "MAJ:MIN", as sysfs's dev files and /sys/dev link names
// hold a device number.
func ParseDev(s string) (maj, min uint32, ok bool) {
	a, b, found := strings.Cut(s, ":")
	x, err1 := strconv.ParseUint(a, 10, 32)
	y, err2 := strconv.ParseUint(b, 10, 32)
	if !found || err1 != nil || err2 != nil {
		return 0, 0, false
	}
	return uint32(x), uint32(y), true
}
