package gpt

import (
	"hash/crc32"
	"testing"
)

// TestChecksumIsIEEECRC32 compares the bitwise CRC with the standard library's.
func TestChecksumIsIEEECRC32(t *testing.T) {
	inputs := [][]byte{nil, {0}, []byte("123456789"), make([]byte, 92)}
	long := make([]byte, 128*128)
	for i := range long {
		long[i] = byte(i*7 + i>>8)
	}
	inputs = append(inputs, long)
	for _, b := range inputs {
		if got, want := checksum(b), crc32.ChecksumIEEE(b); got != want {
			t.Errorf("checksum of %d bytes = %08x, want %08x", len(b), got, want)
		}
	}
	if got := checksum([]byte("123456789")); got != 0xcbf43926 {
		t.Errorf("check value %08x, want cbf43926", got)
	}
}

// BenchmarkChecksumEntries is one partition array of 128 entries (16 KiB).
func BenchmarkChecksumEntries(b *testing.B) {
	arr := make([]byte, 128*128)
	b.SetBytes(int64(len(arr)))
	for b.Loop() {
		checksum(arr)
	}
}
