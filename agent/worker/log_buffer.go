package worker

import (
	"bytes"
	"fmt"
	"sync"
)

// logRing keeps the last size bytes written to it. Safe for concurrent use.
type logRing struct {
	mu      sync.Mutex
	size    int
	buf     []byte // newest bytes, oldest first; up to 2*size, of which the last size count
	trimmed bool   // bytes were dropped from the front of buf
}

func newLogRing(size int) *logRing {
	return &logRing{size: size}
}

// Write appends b, dropping the oldest bytes beyond the ring's size. It never fails.
func (r *logRing) Write(b []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := len(b)
	if n >= r.size {
		r.buf = append(r.buf[:0], b[n-r.size:]...)
		r.trimmed = true
		return n, nil
	}
	if len(r.buf)+n > r.size {
		// Compact: keep the newest size-n bytes, then append. Amortized O(1) per byte
		// because cap(buf) grows to 2*size and compaction runs at most once per size bytes.
		if cap(r.buf) < 2*r.size {
			nb := make([]byte, 0, 2*r.size)
			r.buf = append(nb, r.buf...)
		}
		if len(r.buf)+n > cap(r.buf) {
			keep := r.size - n
			copy(r.buf, r.buf[len(r.buf)-keep:])
			r.buf = r.buf[:keep]
			r.trimmed = true
		}
	}
	r.buf = append(r.buf, b...)
	return n, nil
}

// Bytes returns a copy of the last size bytes, starting at a line boundary once bytes were
// dropped.
func (r *logRing) Bytes() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	b := r.buf
	if len(b) > r.size {
		b = b[len(b)-r.size:]
	}
	if r.trimmed || len(r.buf) > r.size {
		if i := bytes.IndexByte(b, '\n'); i >= 0 && i+1 < len(b) {
			b = b[i+1:]
		}
	}
	if len(b) == 0 {
		return nil
	}
	return bytes.Clone(b)
}

// capture collects the log of one call, keeping its first max bytes. Not safe for
// concurrent use: the process guards it with its mutex.
type capture struct {
	max     int
	buf     []byte
	dropped int64
}

func (c *capture) write(b []byte) {
	room := c.max - len(c.buf)
	if room >= len(b) {
		c.buf = append(c.buf, b...)
		return
	}
	if room > 0 {
		c.buf = append(c.buf, b[:room]...)
	}
	c.dropped += int64(len(b) - max(room, 0))
}

// result returns the captured log, ending with a line that says how much was dropped when
// the cap was reached, and whether it was truncated.
func (c *capture) result() ([]byte, bool) {
	if c.dropped == 0 {
		return c.buf, false
	}
	out := c.buf
	if len(out) > 0 && out[len(out)-1] != '\n' {
		out = append(out, '\n')
	}
	out = fmt.Appendf(out, "[algos: call log truncated at %d bytes, %d bytes dropped]\n", c.max, c.dropped)
	return out, true
}
