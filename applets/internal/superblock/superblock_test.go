package superblock

import (
	"bytes"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unicode/utf16"

	"toybox-go/internal/testbin"
)

// mkfsImage formats a fresh image file with mkfs.ext4 and returns its first
// ProbeSize bytes.
func mkfsImage(t testing.TB, label string, extra ...string) []byte {
	t.Helper()
	mkfs := testbin.RequireTool(t, "mkfs.ext4")
	img := filepath.Join(t.TempDir(), "fs.img")
	if err := os.WriteFile(img, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, 2<<20); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"-q", "-F", "-L", label}, extra...)
	if out, err := exec.Command(mkfs, append(args, img)...).CombinedOutput(); err != nil {
		t.Fatalf("mkfs.ext4: %v\n%s", err, out)
	}
	f, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, ProbeSize)
	if _, err := f.ReadAt(b, 0); err != nil {
		t.Fatal(err)
	}
	return b
}

func TestExt4FromMkfs(t *testing.T) {
	inf, err := Probe(bytes.NewReader(mkfsImage(t, "rootfs_data")))
	if err != nil {
		t.Fatal(err)
	}
	if inf.Type != Ext4 || inf.Label != "rootfs_data" || inf.UUID == "" || inf.Size != 2<<20 {
		t.Fatalf("got %+v, want ext4 rootfs_data with a UUID and 2 MiB", inf)
	}
	if inf.Type.MountType() != "ext4" || inf.Type.NeedsFormat() {
		t.Fatalf("ext4: mount type %q, needs format %v", inf.Type.MountType(), inf.Type.NeedsFormat())
	}
}

func TestF2FSFromMkfs(t *testing.T) {
	img := f2fsImage(t)
	f, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	inf, err := Probe(f)
	if err != nil {
		t.Fatal(err)
	}
	if inf.Type != F2FS || inf.Label != "rootfs_data" || len(inf.UUID) != 36 {
		t.Fatalf("got %+v, want f2fs rootfs_data with a UUID", inf)
	}
	if inf.Type.MountType() != "f2fs" {
		t.Fatal(inf.Type.MountType())
	}
}

// f2fsImage makes a 64 MiB image with mkfs.f2fs -l rootfs_data.
func f2fsImage(t testing.TB) string {
	t.Helper()
	mkfs := testbin.RequireTool(t, "mkfs.f2fs")
	img := filepath.Join(t.TempDir(), "f2fs.img")
	if err := os.WriteFile(img, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, 64<<20); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(mkfs, "-q", "-f", "-l", "rootfs_data", img).CombinedOutput(); err != nil {
		t.Fatalf("mkfs.f2fs: %v\n%s", err, out)
	}
	return img
}

func TestExt2FromMkfs(t *testing.T) {
	inf, _ := Probe(bytes.NewReader(mkfsImage(t, "x", "-t", "ext2")))
	if inf.Type != Ext2 || inf.Label != "x" {
		t.Fatalf("got %+v, want ext2 labelled x", inf)
	}
}

func TestLongLabelIsCutAtSixteenBytes(t *testing.T) {
	// mkfs.ext4 truncates a label to 16 bytes with no NUL: all 16 must be read,
	// and nothing past them.
	b := mkfsImage(t, "rootfs_data_0123456789")
	inf := Identify(b)
	if inf.Label != "rootfs_data_0123" {
		t.Fatalf("label %q, want the 16-byte rootfs_data_0123", inf.Label)
	}
}

func TestSynthetic(t *testing.T) {
	put32le := func(b []byte, off int, v uint32) []byte { binary.LittleEndian.PutUint32(b[off:], v); return b }
	img := func() []byte { return make([]byte, ProbeSize) }
	f2 := img()
	put32le(f2, 0x400, 0xf2f52010)
	for i, u := range utf16.Encode([]rune("rootfs_data")) {
		binary.LittleEndian.PutUint16(f2[0x47c+2*i:], u)
	}
	bt := img()
	copy(bt[0x10040:], "_BHRfS_M")
	copy(bt[0x1012b:], "rootfs_data")
	sq := img()
	copy(sq, "hsqs")
	binary.LittleEndian.PutUint64(sq[40:], 123456)
	ero := img()
	put32le(ero, 1024, 0xe0f5e1e2)
	ero[1024+0x0c] = 12
	put32le(ero, 1024+0x24, 10)
	copy(ero[1024+0x40:], "rom")
	ff := bytes.Repeat([]byte{0xff}, 4096)

	cases := []struct {
		name string
		b    []byte
		want Info
	}{
		{"f2fs", f2, Info{Type: F2FS, Label: "rootfs_data"}},
		{"btrfs", bt, Info{Type: Btrfs, Label: "rootfs_data"}},
		{"squashfs", sq, Info{Type: Squashfs, Size: 123456}},
		{"erofs", ero, Info{Type: EROFS, Label: "rom", Size: 10 << 12}},
		{"deadcode", []byte{0xde, 0xad, 0xc0, 0xde, 1, 2, 3}, Info{Type: DeadCode}},
		{"gzip", []byte{0x1f, 0x8b, 0x08, 0x00, 0, 0}, Info{Type: TarGz}},
		{"jffs2 le", []byte{0x85, 0x19, 0x03, 0x20}, Info{Type: JFFS2}},
		{"jffs2 be", []byte{0x19, 0x85, 0x20, 0x03}, Info{Type: JFFS2}},
		{"ubifs", []byte{0x31, 0x18, 0x10, 0x06}, Info{Type: UBIFS}},
		{"ubi", []byte("UBI#\x01"), Info{Type: UBI}},
		{"zeros", img(), Info{Type: Empty}},
		{"erased", ff, Info{Type: Empty}},
		{"garbage", []byte("hello world, not a file system"), Info{}},
		{"short", []byte{1}, Info{}},
		{"nothing", nil, Info{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := Identify(c.b); !reflect.DeepEqual(got, c.want) {
				t.Fatalf("got %+v, want %+v", got, c.want)
			}
		})
	}
}

func TestCorruptExtMagic(t *testing.T) {
	b := mkfsImage(t, "rootfs_data")
	b[0x438] ^= 0xff // the magic
	if inf := Identify(b); inf.Type != Unknown || inf.Label != "" {
		t.Fatalf("corrupt magic: got %+v, want unknown", inf)
	}
}

func TestProbeShortReader(t *testing.T) {
	inf, err := Probe(bytes.NewReader([]byte{0xde, 0xad, 0xc0, 0xde}))
	if err != nil || inf.Type != DeadCode {
		t.Fatalf("got %+v, %v", inf, err)
	}
}

func FuzzIdentify(f *testing.F) {
	f.Add(mkfsImage(f, "rootfs_data")[:4096])
	f.Add(mkfsImage(f, "rootfs_data_0123456789", "-t", "ext3")[:4096])
	if b, err := os.ReadFile(f2fsImage(f)); err == nil {
		f.Add(b[:4096])
	}
	f.Add([]byte("hsqs"))
	f.Add([]byte{0xde, 0xad, 0xc0, 0xde})
	b := make([]byte, 0x1100)
	binary.LittleEndian.PutUint32(b[0x400:], 0xf2f52010)
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		inf := Identify(b)
		if inf.Type.NeedsFormat() && inf.Label != "" {
			t.Fatalf("unformatted volume with a label: %+v", inf)
		}
		if len(inf.Label) > 1024*3 {
			t.Fatalf("label of %d bytes", len(inf.Label))
		}
		if inf.Size < 0 {
			t.Fatalf("negative size %d", inf.Size)
		}
	})
}

// FuzzCString checks cString against what it replaces: the text before the
// first NUL through strings.ToValidUTF8(s, "?").
func FuzzCString(f *testing.F) {
	for _, s := range []string{"", "rootfs_data", "a\x00b", "\xff", "a\xff\xfeb", "\xe2\x82", "\xe2\x82\xac\xff", "\xef\xbf\xbd", "x\xc0\xafy\x00\xff", "\xed\xa0\x80"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s := string(b)
		if i := strings.IndexByte(s, 0); i >= 0 {
			s = s[:i]
		}
		if got, want := cString(b), strings.ToValidUTF8(s, "?"); got != want {
			t.Fatalf("cString(%q) = %q, want %q", b, got, want)
		}
	})
}
