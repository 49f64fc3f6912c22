package modinfo

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"

	"golang.org/x/sys/unix"
)

// Signature is what kmod's modinfo shows of a signed module's appended
// signature (CONFIG_MODULE_SIG): the module ends with the signature, a
// struct module_signature and the magic string sigMagic.
type Signature struct {
	IDType   string // "PKCS#7" (every kernel since 4.3), "X509" or "PGP"
	Signer   string // PKCS#7: the issuer's common name
	KeyID    []byte // PKCS#7: the issuer's serial number
	HashAlgo string // "sha256"...
	Sig      []byte // the signature proper
}

const sigMagic = "~Module signature appended~\n"

// sigHeaderLen is the size of struct module_signature: algo, hash, id_type,
// signer_len, key_id_len, three bytes of padding, a big-endian sig_len.
const sigHeaderLen = 12

// maxSignature bounds what a trailer may make us read: real ones are under
// 2 KiB (a PKCS#7 message without certificates).
const maxSignature = 64 << 10

// kmod's names for the kernel's enum pkey_hash_algo and enum pkey_id_type.
var (
	hashAlgos = []string{"md4", "md5", "sha1", "rmd160", "sha256", "sha384", "sha512", "sha224", "sm3"}
	idTypes   = []string{"PGP", "X509", "PKCS#7"}
)

const idPKCS7 = 2

// ErrBadSignature is a signature trailer that cannot be decoded: kmod shows
// no signature fields then, and neither do we.
var ErrBadSignature = errors.New("malformed module signature")

// ParseSignature decodes the signature trailer at the end of data (the end
// of a module file; the start may be cut off as long as the whole trailer is
// there). An unsigned module gives nil, nil.
func ParseSignature(data []byte) (*Signature, error) {
	if !bytes.HasSuffix(data, []byte(sigMagic)) {
		return nil, nil
	}
	end := len(data) - len(sigMagic) - sigHeaderLen
	if end < 0 {
		return nil, ErrBadSignature
	}
	h := data[end : end+sigHeaderLen]
	algo, hash, idType, signerLen, keyIDLen := h[0], int(h[1]), int(h[2]), int(h[3]), int(h[4])
	sigLen := int64(binary.BigEndian.Uint32(h[8:]))
	// kmod's checks: known algorithm, hash and key identifier type, a
	// signature, and lengths that fit the file.
	if algo >= 2 || hash >= len(hashAlgos) || idType >= len(idTypes) || sigLen == 0 ||
		int64(end) < int64(signerLen)+int64(keyIDLen)+sigLen {
		return nil, ErrBadSignature
	}
	sigStart := end - int(sigLen)
	sig := data[sigStart:end]
	s := &Signature{IDType: idTypes[idType]}
	if idType == idPKCS7 {
		if !s.parsePKCS7(sig) {
			return nil, ErrBadSignature
		}
		return s, nil
	}
	keyStart := sigStart - keyIDLen
	s.Sig = sig
	s.KeyID = data[keyStart:sigStart]
	s.Signer = string(data[keyStart-signerLen : keyStart])
	s.HashAlgo = hashAlgos[hash]
	return s, nil
}

// ReadSignature reads the signature trailer of the module file at path: nil,
// nil for an unsigned module. One read of the file's last maxSignature bytes:
// a trailer claiming more is malformed.
func ReadSignature(path string) (*Signature, error) {
	fd, err := OpenFile(path, 0)
	if err != nil {
		return nil, err
	}
	var st unix.Stat_t
	err = unix.Fstat(fd, &st)
	var buf []byte
	if err == nil {
		n := min(st.Size, maxSignature)
		buf = make([]byte, n)
		if _, err = fdReader(fd).ReadAt(buf, st.Size-n); err == io.EOF {
			err = nil
		}
	}
	unix.Close(fd) // no defer: one exit
	if err != nil {
		return nil, err
	}
	return ParseSignature(buf)
}

// Fields are the signature as kmod's modinfo lists it, after the .modinfo
// fields: sig_id, signer, sig_key, sig_hashalgo, signature.
func (s *Signature) Fields() []Field {
	keys := [...]string{"sig_id", "signer", "sig_key", "sig_hashalgo", "signature"}
	vals := [...]string{s.IDType, s.Signer, hexColons(s.KeyID), s.HashAlgo, hexColons(s.Sig)}
	out := make([]Field, len(keys))
	for i := range keys {
		out[i] = Field{Key: keys[i], Value: vals[i]}
	}
	return out
}

// hexColons writes bytes as kmod does: "01:AB:..", a new line and two tabs
// after every twentieth byte.
// Kept out of line (go:noinline): inlined at each caller it costs more
// than a call.
//
//go:noinline
func hexColons(b []byte) string {
	const digits = "0123456789ABCDEF"
	out := make([]byte, 0, len(b)*3+len(b)/20*3)
	for i, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
		if i < len(b)-1 {
			out = append(out, ':')
			if (i+1)%20 == 0 {
				out = append(out, "\n\t\t"...)
			}
		}
	}
	return string(out)
}

// DER tags of the PKCS#7 SignedData walk.
const (
	derInteger   = 0x02
	derOctets    = 0x04
	derOID       = 0x06
	derSequence  = 0x30
	derSet       = 0x31
	derContext0  = 0xa0 // [0], constructed
	derContext1  = 0xa1 // [1], constructed
	derMaxLenLen = 4
)

// derNext splits the first element (tag, content) off b. Only definite
// lengths and one-byte tags, which DER and the kernel's sign-file use.
func derNext(b []byte) (tag byte, content, rest []byte, ok bool) {
	if len(b) < 2 || b[0]&0x1f == 0x1f {
		return 0, nil, nil, false
	}
	tag, n, hdr := b[0], int64(b[1]), 2
	if n >= 0x80 {
		k := int(n & 0x7f)
		if k == 0 || k > derMaxLenLen || len(b) < 2+k {
			return 0, nil, nil, false // indefinite, or absurd
		}
		n = 0
		for _, c := range b[2 : 2+k] {
			n = n<<8 | int64(c)
		}
		hdr += k
	}
	if n > int64(len(b)-hdr) {
		return 0, nil, nil, false
	}
	return tag, b[hdr : hdr+int(n)], b[hdr+int(n):], true
}

// derExpect is derNext requiring a tag.
func derExpect(b []byte, want byte) (content, rest []byte, ok bool) {
	tag, content, rest, ok := derNext(b)
	if !ok || tag != want {
		return nil, nil, false
	}
	return content, rest, true
}

// derSkip drops an optional element with the given tag.
func derSkip(b []byte, tag byte) []byte {
	if t, _, rest, ok := derNext(b); ok && t == tag {
		return rest
	}
	return b
}

var (
	oidSignedData = []byte{0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02} // 1.2.840.113549.1.7.2
	oidCommonName = []byte{0x55, 0x04, 0x03}                                     // 2.5.4.3
	// Digest algorithm OIDs (DER content), each followed by kmod's name: a
	// table, not a map, to keep the binary small.
	hashOIDs = []string{
		"\x2a\x86\x48\x86\xf7\x0d\x02\x04", "md4",
		"\x2a\x86\x48\x86\xf7\x0d\x02\x05", "md5",
		"\x2b\x0e\x03\x02\x1a", "sha1",
		"\x2b\x24\x03\x02\x01", "rmd160",
		"\x60\x86\x48\x01\x65\x03\x04\x02\x01", "sha256",
		"\x60\x86\x48\x01\x65\x03\x04\x02\x02", "sha384",
		"\x60\x86\x48\x01\x65\x03\x04\x02\x03", "sha512",
		"\x60\x86\x48\x01\x65\x03\x04\x02\x04", "sha224",
		"\x2a\x81\x1c\xcf\x55\x01\x83\x11", "sm3",
	}
)

// parsePKCS7 takes what kmod takes from a PKCS#7 SignedData message (RFC
// 2315): of the first SignerInfo, the issuer's common name (kmod: the first
// CN, or else the name's last value), the serial number (as an unsigned
// big-endian number without leading zeros), the digest algorithm and the
// encrypted digest.
func (s *Signature) parsePKCS7(msg []byte) bool {
	ci, _, ok := derExpect(msg, derSequence) // ContentInfo
	if !ok {
		return false
	}
	oid, ci, ok := derExpect(ci, derOID)
	if !ok || !bytes.Equal(oid, oidSignedData) {
		return false
	}
	explicit, _, ok := derExpect(ci, derContext0)
	if !ok {
		return false
	}
	sd, _, ok := derExpect(explicit, derSequence) // SignedData
	if !ok {
		return false
	}
	var set []byte
	for _, tag := range []byte{derInteger, derSet, derSequence} { // version, digestAlgorithms, contentInfo
		if _, sd, ok = derExpect(sd, tag); !ok {
			return false
		}
	}
	sd = derSkip(derSkip(sd, derContext0), derContext1) // certificates, crls
	if set, _, ok = derExpect(sd, derSet); !ok {        // signerInfos
		return false
	}
	si, _, ok := derExpect(set, derSequence)
	if !ok {
		return false
	}
	if _, si, ok = derExpect(si, derInteger); !ok { // version
		return false
	}
	ias, si, ok := derExpect(si, derSequence) // issuerAndSerialNumber
	if !ok {
		return false
	}
	name, ias, ok := derExpect(ias, derSequence)
	if !ok {
		return false
	}
	serial, _, ok := derExpect(ias, derInteger)
	if !ok {
		return false
	}
	alg, si, ok := derExpect(si, derSequence) // digestAlgorithm
	if !ok {
		return false
	}
	if oid, _, ok = derExpect(alg, derOID); !ok {
		return false
	}
	si = derSkip(si, derContext0)                    // authenticatedAttributes
	if _, si, ok = derExpect(si, derSequence); !ok { // digestEncryptionAlgorithm
		return false
	}
	digest, _, ok := derExpect(si, derOctets)
	if !ok {
		return false
	}
	signer, ok := commonName(name)
	if !ok {
		return false
	}
	s.Signer, s.KeyID, s.Sig = signer, unsignedInteger(serial), digest
	s.HashAlgo = "unknown"
	for i := 0; i < len(hashOIDs); i += 2 {
		if hashOIDs[i] == string(oid) {
			s.HashAlgo = hashOIDs[i+1]
		}
	}
	return true
}

// commonName returns an X.501 Name's first common name, or its last value
// when it has none, up to a NUL, as kmod shows it.
func commonName(name []byte) (string, bool) {
	var last []byte
	for len(name) > 0 {
		rdn, rest, ok := derExpect(name, derSet)
		if !ok {
			return "", false
		}
		name = rest
		for len(rdn) > 0 {
			atv, more, ok := derExpect(rdn, derSequence)
			if !ok {
				return "", false
			}
			rdn = more
			oid, val, ok := derExpect(atv, derOID)
			if !ok {
				return "", false
			}
			_, v, _, ok := derNext(val)
			if !ok {
				return "", false
			}
			if i := bytes.IndexByte(v, 0); i >= 0 {
				v = v[:i]
			}
			if bytes.Equal(oid, oidCommonName) {
				return string(v), true
			}
			last = v
		}
	}
	return string(last), true
}

// unsignedInteger turns a DER INTEGER's two's complement content into the
// big-endian magnitude without leading zeros (OpenSSL's BN_bn2bin).
func unsignedInteger(b []byte) []byte {
	out := append([]byte(nil), b...)
	if len(out) > 0 && out[0]&0x80 != 0 { // negative: negate
		carry := 1
		for i := len(out) - 1; i >= 0; i-- {
			v := int(^out[i]) + carry
			out[i], carry = byte(v), v>>8
		}
	}
	for len(out) > 0 && out[0] == 0 {
		out = out[1:]
	}
	return out
}
