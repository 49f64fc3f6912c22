package fsroot

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"toybox-go/applets/internal/command"
	"toybox-go/applets/internal/iocopy"
	"toybox-go/applets/printf"
)

// f2fsMinSize is fstools' threshold: an unformatted volume above it gets f2fs
// (when asked for "auto" and mkfs.f2fs exists), below it ext4.
const f2fsMinSize = 100 << 20

// FormatChoice picks the file system and the mkfs command for an unformatted
// volume: fstools_overlay_fstype=ext4|f2fs|auto on the kernel command line, else
// by size (f2fs above 100 MiB when the kernel has it). It falls back to
// whichever mkfs exists; ok is false when none does.
func (s *System) FormatChoice(v *Volume) (fstype string, argv []string, ok bool) {
	want, _ := s.Param("fstools_overlay_fstype")
	if want == "" || want == "auto" {
		want = "ext4"
		// f2fs only where the kernel can mount it (fstools does not look, and
		// then fails with "No such device").
		if v.Size > f2fsMinSize && s.HasFilesystem("f2fs") {
			want = "f2fs"
		}
	}
	for _, fs := range []string{want, "ext4", "f2fs"} {
		var a []string
		switch fs {
		case "f2fs":
			a = []string{"mkfs.f2fs", "-q", "-f", "-l", v.Name, v.Device}
		case "ext4":
			a = []string{"mkfs.ext4", "-q", "-F", "-L", v.Name, v.Device}
		default:
			continue
		}
		if p, err := command.LookPath(a[0]); err == nil {
			a[0] = p
			return fs, a, true
		}
	}
	return "", nil, false
}

// Format puts a file system on an unformatted volume, first saving a config
// backup that sysupgrade appended to it into Root/tmp/sysupgrade.tar.
func (s *System) Format(v *Volume) (string, error) {
	if n, err := s.SaveBackup(v); err != nil {
		s.logf("saving the config backup in %s: %v", v.Device, err)
	} else if n > 0 {
		s.logf("saved %d bytes of config backup from %s to /tmp/sysupgrade.tar", n, v.Device)
	}
	fstype, argv, ok := s.FormatChoice(v)
	if !ok {
		return "", printf.Errorf("no mkfs.ext4 or mkfs.f2fs to format %s", v.Device)
	}
	s.logf("overlay filesystem in %s has not been formatted yet: %v", v.Device, argv)
	out, err := command.Command(argv[0], argv[1:]...).CombinedOutput()
	if err != nil {
		return "", printf.Errorf("%v: %w: %s", argv, err, strings.TrimSpace(string(out)))
	}
	v.Info, err = probePath(v.Probe)
	return fstype, err
}

// SaveBackup finds a gzip stream after the leading 0xdeadc0de / erased blocks
// of v (as sysupgrade leaves it) and writes it, uncompressed, to
// Root/tmp/sysupgrade.tar. It returns the size written (0: no backup).
// Like fstools it pipes the volume from there through `gzip -cd` (busybox's on
// OpenWrt): the binary carries no inflater for this once-per-sysupgrade path.
func (s *System) SaveBackup(v *Volume) (int64, error) {
	f, err := os.Open(v.Probe)
	if err != nil {
		return 0, err
	}
	n, err := s.saveBackup(f)
	f.Close()
	return n, err
}

// saveBackup is SaveBackup on the open volume f.
func (s *System) saveBackup(f *os.File) (int64, error) {
	blk := make([]byte, 512)
	for i := int64(0); i < 512; i++ {
		if _, err := f.ReadAt(blk, i*512); err != nil {
			return 0, nil
		}
		w := binary.BigEndian.Uint32(blk)
		if w == 0xdeadc0de || w == 0xffffffff {
			continue
		}
		if blk[0] != 0x1f || blk[1] != 0x8b || blk[2] != 0x08 {
			return 0, nil
		}
		// gzip reads from this offset of the shared open file.
		if _, err := unix.Seek(int(f.Fd()), i*512, io.SeekStart); err != nil {
			return 0, err
		}
		return s.gunzipTo(f, s.Path("/tmp/sysupgrade.tar"))
	}
	return 0, nil
}

// maxBackup bounds the uncompressed config backup (it lands in RAM).
const maxBackup = 64 << 20

// gunzipTo decompresses the gzip stream at src's offset into dst with gzip -cd.
// Whatever follows the stream on the volume is trailing garbage to gzip: GNU
// gzip says so with exit status 2 (a warning), busybox stops quietly.
func (s *System) gunzipTo(src *os.File, dst string) (int64, error) {
	gz, err := command.LookPath("gzip")
	if err != nil {
		return 0, printf.Errorf("config backup found but no gzip to extract it: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return 0, err
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return 0, err
	}
	n, err := gunzip(gz, src, out)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return n, err
}

// gunzip runs gz -cd from src into out.
func gunzip(gz string, src, out *os.File) (int64, error) {
	cmd := command.Command(gz, "-cd")
	cmd.Stdin = src
	var errOut bytes.Buffer
	cmd.Stderr = &errOut
	pipe, err := cmd.StdoutPipe()
	if err != nil {
		return 0, err
	}
	if err := cmd.Start(); err != nil {
		return 0, printf.Errorf("%s -cd: %w", gz, err)
	}
	n, copyErr := iocopy.Copy(out, io.LimitReader(pipe, maxBackup))
	if n == maxBackup {
		// Not waited for yet, so the PID is still gzip's.
		_ = unix.Kill(cmd.Process.Pid, unix.SIGKILL)
		copyErr = printf.Errorf("config backup larger than %d bytes", maxBackup)
	}
	err = cmd.Wait()
	if exit, ok := errors.AsType[*command.ExitError](err); ok && exit.ExitCode() == 2 && n > 0 {
		err = nil // "decompression OK, trailing garbage ignored"
	}
	if copyErr != nil {
		err = copyErr
	}
	if err != nil {
		return n, printf.Errorf("%s -cd: %w: %s", gz, err, strings.TrimSpace(errOut.String()))
	}
	return n, nil
}
