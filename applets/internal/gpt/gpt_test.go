package gpt

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"toybox-go/internal/testbin"
)

// sgdiskImage makes a small disk image with sgdisk: partition 1 "rootfs_data",
// partition 2 named with non-ASCII text.
func sgdiskImage(t testing.TB) []byte {
	t.Helper()
	testbin.RequireTool(t, "sgdisk") // skips (or fails) here, not inside the Once
	imgOnce.Do(func() { imgData = makeSgdiskImage(t) })
	if imgData == nil {
		t.Fatal("no sgdisk image")
	}
	return append([]byte(nil), imgData...)
}

// sgdisk takes about a second per run (it waits for the kernel to re-read a
// partition table that a file does not have): make the image once.
var (
	imgOnce sync.Once
	imgData []byte
)

func makeSgdiskImage(t testing.TB) []byte {
	t.Helper()
	sgdisk := testbin.RequireTool(t, "sgdisk")
	img := filepath.Join(t.TempDir(), "disk.img")
	if err := os.WriteFile(img, make([]byte, 100<<10), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(sgdisk, "-n", "1:34:+20K", "-c", "1:rootfs_data",
		"-n", "2:0:0", "-c", "2:Ünïcode-kernel", img).CombinedOutput()
	if err != nil {
		t.Fatalf("sgdisk: %v\n%s", err, out)
	}
	b, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSgdiskImage(t *testing.T) {
	b := sgdiskImage(t)
	tab, err := Read(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	if tab.Backup || tab.SectorSize != 512 || len(tab.Partitions) != 2 {
		t.Fatalf("table %+v", tab)
	}
	p, ok := tab.Find("rootfs_data")
	if !ok || p.Number != 1 || p.FirstLBA != 34 || p.LastLBA != 73 {
		t.Fatalf("rootfs_data: %+v %v", p, ok)
	}
	if tab.Partitions[1].Name != "Ünïcode-kernel" || tab.Partitions[1].Number != 2 {
		t.Fatalf("partition 2: %+v", tab.Partitions[1])
	}
	if p.Type != "0fc63daf-8483-4772-8e79-3d69d8477de4" {
		t.Fatalf("type GUID %s, want Linux filesystem", p.Type)
	}
}

func TestDamagedPrimaryFallsBackToBackup(t *testing.T) {
	b := sgdiskImage(t)
	b[512+20] ^= 0xff // inside the primary header: its CRC no longer matches
	tab, err := Read(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	if !tab.Backup {
		t.Fatal("primary with a bad CRC was accepted")
	}
	if _, ok := tab.Find("rootfs_data"); !ok {
		t.Fatal("rootfs_data not found in backup")
	}
	// Without the size there is no backup to go to.
	if _, err := Read(bytes.NewReader(b), 0); !errors.Is(err, ErrNoGPT) {
		t.Fatalf("got %v, want ErrNoGPT", err)
	}
}

func TestDamagedEntries(t *testing.T) {
	b := sgdiskImage(t)
	b[1024+56] ^= 0xff // first entry's name, primary array
	tab, err := Read(bytes.NewReader(b), int64(len(b)))
	if err != nil || !tab.Backup {
		t.Fatalf("bad entry CRC: %+v %v, want the backup", tab, err)
	}
}

func TestNoProtectiveMBR(t *testing.T) {
	b := sgdiskImage(t)
	for i := range 4 {
		b[446+16*i+4] = 0x83
	}
	if _, err := Read(bytes.NewReader(b), int64(len(b))); !errors.Is(err, ErrNoGPT) {
		t.Fatalf("got %v, want ErrNoGPT", err)
	}
	if _, err := Read(bytes.NewReader(make([]byte, 4096)), 4096); !errors.Is(err, ErrNoGPT) {
		t.Fatalf("zeros: got %v, want ErrNoGPT", err)
	}
}

func FuzzRead(f *testing.F) {
	img := sgdiskImage(f)
	f.Add(img[:34*512]) // MBR, header, array: the primary alone
	f.Add(img[:1024])
	f.Fuzz(func(t *testing.T, b []byte) {
		tab, err := Read(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			if !errors.Is(err, ErrNoGPT) {
				t.Fatalf("error %v does not wrap ErrNoGPT", err)
			}
			return
		}
		if len(tab.Partitions) > maxEntries {
			t.Fatalf("%d partitions", len(tab.Partitions))
		}
		for _, p := range tab.Partitions {
			if p.Number < 1 || len(p.Name) > 36*3 {
				t.Fatalf("partition %+v", p)
			}
		}
	})
}
