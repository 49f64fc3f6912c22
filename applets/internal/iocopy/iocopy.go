// Package iocopy copies a reader to a writer through a buffer, as io.Copy
// does without its fast paths.
//
// io.Copy hands the copy to the writer's ReadFrom or the reader's WriteTo
// when they have one. Once any io.Copy is in the binary, the linker must keep
// *os.File's: splice, sendfile and copy_file_range, pipe pools and the wrapper
// types around them, some 40 KB of the file. None of our copies can use them
// (a gzip stream into a file, firmware into sysfs, a child's pipe into a
// buffer), so they copy here instead.
package iocopy

import "io"

// Copy copies r to w until r reports io.EOF or an error, and returns the
// bytes written and the first error (io.EOF is not one).
func Copy(w io.Writer, r io.Reader) (int64, error) {
	buf := make([]byte, 32<<10)
	var written int64
	for {
		n, err := r.Read(buf)
		if n > 0 {
			m, werr := w.Write(buf[:n])
			written += int64(m)
			if werr == nil && m < n {
				werr = io.ErrShortWrite
			}
			if werr != nil {
				return written, werr
			}
		}
		if err == io.EOF {
			return written, nil
		}
		if err != nil {
			return written, err
		}
	}
}
