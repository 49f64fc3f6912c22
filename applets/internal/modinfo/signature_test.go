package modinfo

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"toybox-go/internal/testbin"
)

// sigTrailer builds what sign-file appends: signer, key id, signature, the
// struct module_signature and the magic.
func sigTrailer(algo, hash, idType byte, signer, keyID, sig []byte) []byte {
	var b bytes.Buffer
	b.Write(signer)
	b.Write(keyID)
	b.Write(sig)
	h := []byte{algo, hash, idType, byte(len(signer)), byte(len(keyID)), 0, 0, 0, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(h[8:], uint32(len(sig)))
	b.Write(h)
	b.WriteString(sigMagic)
	return b.Bytes()
}

func TestParseSignatureDefault(t *testing.T) {
	tr := sigTrailer(1, 4, 1, []byte("Signer"), []byte{0xab, 0x01}, bytes.Repeat([]byte{0x5a}, 41))
	s, err := ParseSignature(append([]byte("module body"), tr...))
	if err != nil || s == nil {
		t.Fatalf("%v %v", s, err)
	}
	want := []Field{{Key: "sig_id", Value: "X509"}, {Key: "signer", Value: "Signer"}, {Key: "sig_key", Value: "AB:01"}, {Key: "sig_hashalgo", Value: "sha256"},
		{Key: "signature", Value: strings.Repeat("5A:", 20) + "\n\t\t" + strings.Repeat("5A:", 20) + "\n\t\t5A"}}
	got := s.Fields()
	for i := range want {
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Errorf("field %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	// Unsigned, and hostile trailers: nothing, or an error; never a panic.
	if s, err := ParseSignature([]byte("plain module")); s != nil || err != nil {
		t.Errorf("unsigned: %v %v", s, err)
	}
	for name, data := range map[string][]byte{
		"magic only":      []byte(sigMagic),
		"bad algo":        sigTrailer(2, 4, 1, nil, nil, []byte{1}),
		"bad hash":        sigTrailer(1, 9, 1, nil, nil, []byte{1}),
		"bad id type":     sigTrailer(1, 4, 3, nil, nil, []byte{1}),
		"no signature":    sigTrailer(1, 4, 1, nil, nil, nil),
		"lengths too big": tr[20:],
		"PKCS#7 garbage":  sigTrailer(0, 0, 2, nil, nil, []byte{0x30, 0x84, 0xff, 0xff, 0xff, 0xff}),
		"PKCS#7 empty":    sigTrailer(0, 0, 2, nil, nil, []byte{0x30, 0x00}),
	} {
		if s, err := ParseSignature(data); s != nil || err == nil {
			t.Errorf("%s: %+v %v, want an error", name, s, err)
		}
	}
}

func TestHexColons(t *testing.T) {
	for in, want := range map[string]string{"": "", "\x00": "00", "\x01\xfe": "01:FE"} {
		if got := hexColons([]byte(in)); got != want {
			t.Errorf("%q: %q", in, got)
		}
	}
	if got := hexColons(make([]byte, 20)); strings.Contains(got, "\n") || strings.HasSuffix(got, ":") {
		t.Errorf("20 bytes: %q", got)
	}
}

func TestUnsignedInteger(t *testing.T) {
	for in, want := range map[string]string{"\x00\x80": "\x80", "\x1b\xa0": "\x1b\xa0", "\x00": "", "\xff": "\x01", "\x80\x00": "\x80\x00"} {
		if got := string(unsignedInteger([]byte(in))); got != want {
			t.Errorf("%q: %q, want %q", in, got, want)
		}
	}
}

// The signature fields of real Debian modules equal kmod's modinfo -F ones.
func TestSignatureAgreesWithKmod(t *testing.T) {
	dir := realModules(t)
	testbin.RequireTool(t, "modinfo")
	ix, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, name := range sample {
		m := ix.Get(name)
		if m == nil || m.Builtin {
			continue
		}
		s, err := ReadSignature(m.Path)
		if err != nil || s == nil {
			t.Errorf("%s: no signature: %v", name, err)
			continue
		}
		for _, f := range s.Fields() {
			if want := strings.Join(kmodField(t, f.Key, m.Path), "\n"); f.Value != want {
				t.Errorf("%s %s: %q, kmod %q", name, f.Key, f.Value, want)
			}
		}
		n++
	}
	if n < 10 {
		t.Errorf("only %d signed modules compared", n)
	}
}

// FuzzParseSignature: truncated and hostile trailers give no fields or an
// error, never a panic; seeded with a real PKCS#7 trailer.
func FuzzParseSignature(f *testing.F) {
	f.Add(sigTrailer(1, 4, 1, []byte("me"), []byte{1, 2}, []byte{3}))
	f.Add(sigTrailer(0, 0, 2, nil, nil, []byte{0x30, 0x03, 0x06, 0x01, 0x00}))
	f.Add([]byte(sigMagic))
	if p := os.Getenv("TOYBOX_GO_FUZZ_KO"); p != "" {
		if data, err := os.ReadFile(p); err == nil && len(data) > 2048 {
			tail := data[len(data)-2048:]
			f.Add(tail)
			f.Add(tail[len(tail)-200:])
			cut := append([]byte(nil), tail...)
			n := len(cut) - len(sigMagic) - sigHeaderLen
			cut[n+8], cut[n+9] = 0, 0x40 // a shorter sig_len: the DER is cut
			f.Add(cut)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ParseSignature(data)
		if s != nil && err != nil {
			t.Fatalf("both a signature and an error")
		}
		if s != nil {
			for _, fl := range s.Fields() {
				if strings.ContainsRune(fl.Value, 0) && fl.Key != "signer" {
					t.Fatalf("NUL in %s", fl.Key)
				}
			}
		}
	})
}

// ReadSignature on files: unsigned, short, missing.
func TestReadSignatureFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	if s, err := ReadSignature(write("short", []byte("x"))); s != nil || err != nil {
		t.Errorf("short: %v %v", s, err)
	}
	big := append(bytes.Repeat([]byte{0}, 100000), sigTrailer(1, 4, 1, []byte("s"), nil, []byte{9})...)
	if s, err := ReadSignature(write("big", big)); err != nil || s == nil || s.Signer != "s" {
		t.Errorf("big: %+v %v", s, err)
	}
	huge := sigTrailer(1, 4, 1, nil, nil, []byte{1})
	binary.BigEndian.PutUint32(huge[len(huge)-len(sigMagic)-4:], 1<<31)
	if s, err := ReadSignature(write("huge", huge)); s != nil || err == nil {
		t.Errorf("sig_len 2 GiB: %+v %v", s, err)
	}
	if _, err := ReadSignature(filepath.Join(dir, "missing")); err == nil {
		t.Error("missing file: no error")
	}
}

// FuzzPKCS7 drives the DER walker directly (the trailer fuzzer spends most
// inputs on the magic), seeded with a real module's PKCS#7 message.
func FuzzPKCS7(f *testing.F) {
	f.Add([]byte{0x30, 0x80})
	f.Add([]byte{0x30, 0x82, 0x00, 0x03, 0x06, 0x01, 0x00})
	if p := os.Getenv("TOYBOX_GO_FUZZ_KO"); p != "" {
		if data, err := os.ReadFile(p); err == nil && len(data) > 2048 {
			end := len(data) - len(sigMagic) - sigHeaderLen
			n := int(binary.BigEndian.Uint32(data[end+8:]))
			if n > 0 && n < end {
				f.Add(data[end-n : end])
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var s Signature
		if s.parsePKCS7(data) && s.HashAlgo == "" {
			t.Fatal("parsed without a hash algorithm")
		}
	})
}
