package results

import (
	"bytes"
	"compress/zlib"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"slices"
	"sync"
)

// The cookies as written: the base (mergejson.go) with the word size 0x10.
const (
	v2EncodingCookie           int32 = v2EncodingCookieBase | 0x10
	v2CompressedEncodingCookie int32 = v2CompressedCookieBase | 0x10
)

// histEncoder is one best-compression zlib writer and the scratch buffers of
// an encoding. hdrhistogram-go's own Encode allocates a new writer (≈0.8 MB
// of state) per histogram, which dominated peak memory when a long run's
// window histograms were written out. The level stays BestCompression, so
// our bytes equal the reference encoder's.
type histEncoder struct {
	zw                       *zlib.Writer
	payload, raw, compressed bytes.Buffer
}

// encoders caches histEncoders between histograms. A sync.Pool alone is
// emptied by every second garbage collection, and writing a file runs
// several (WriteFile tightens the GC target), so while a file is being
// written one encoder is also held here, outside the pool's reach.
var encoders struct {
	pool  sync.Pool
	mu    sync.Mutex
	holds int          // WriteFile calls under way
	kept  *histEncoder // the held encoder when not in use
}

func getEncoder() *histEncoder {
	encoders.mu.Lock()
	e := encoders.kept
	encoders.kept = nil
	encoders.mu.Unlock()
	if e != nil {
		return e
	}
	if e, ok := encoders.pool.Get().(*histEncoder); ok {
		return e
	}
	zw, _ := zlib.NewWriterLevel(nil, zlib.BestCompression) // cannot fail: a valid level
	return &histEncoder{zw: zw}
}

func putEncoder(e *histEncoder) {
	// A large histogram's buffers are not kept for the small ones after it.
	const keep = 64 << 10
	for _, b := range []*bytes.Buffer{&e.payload, &e.raw, &e.compressed} {
		if b.Cap() > keep {
			*b = bytes.Buffer{}
		}
	}
	encoders.mu.Lock()
	if encoders.holds > 0 && encoders.kept == nil {
		encoders.kept = e
		e = nil
	}
	encoders.mu.Unlock()
	if e != nil {
		encoders.pool.Put(e)
	}
}

// holdEncoder keeps one encoder alive across garbage collections until the
// returned release is called.
func holdEncoder() (release func()) {
	encoders.mu.Lock()
	encoders.holds++
	encoders.mu.Unlock()
	return func() {
		encoders.mu.Lock()
		encoders.holds--
		var e *histEncoder
		if encoders.holds == 0 {
			e, encoders.kept = encoders.kept, nil
		}
		encoders.mu.Unlock()
		if e != nil {
			encoders.pool.Put(e)
		}
	}
}

// appendV2Compressed appends the standard base64 V2 compressed encoding of h,
// byte-compatible with every HdrHistogram decoder, to dst.
func appendV2Compressed(dst []byte, h *Histogram) ([]byte, error) {
	counts := h.counts()
	limit := len(counts)
	for limit > 1 && counts[limit-1] == 0 {
		limit-- // the reference writes up to the bucket of Max(), at least one
	}
	e := getEncoder()
	defer putEncoder(e)
	payload := &e.payload
	payload.Reset()
	payload.Grow(limit)
	var tmp [9]byte
	for i := 0; i < limit; {
		count := counts[i]
		i++
		if count == 0 {
			zeros := int64(1)
			for i < limit && counts[i] == 0 {
				zeros++
				i++
			}
			if zeros > 1 {
				payload.Write(tmp[:putZigZagLEB128(tmp[:], -zeros)])
				continue
			}
		}
		payload.Write(tmp[:putZigZagLEB128(tmp[:], count)])
	}

	raw := &e.raw
	raw.Reset()
	raw.Grow(v2HeaderSize + payload.Len())
	header := []any{
		v2EncodingCookie,
		int32(payload.Len()),
		int32(1), // normalizing index offset
		int32(h.h.SignificantFigures()),
		h.h.LowestTrackableValue(),
		h.h.HighestTrackableValue(),
		float64(1), // integer to double conversion ratio
	}
	for _, v := range header {
		if err := binary.Write(raw, binary.BigEndian, v); err != nil {
			return dst, err
		}
	}
	raw.Write(payload.Bytes())

	compressed := &e.compressed
	compressed.Reset()
	var cookie [8]byte
	compressed.Write(cookie[:]) // filled in below, once the length is known
	e.zw.Reset(compressed)
	_, werr := e.zw.Write(raw.Bytes())
	cerr := e.zw.Close()
	if werr != nil || cerr != nil {
		return dst, fmt.Errorf("encode histogram: compress: %v %v", werr, cerr)
	}
	out := compressed.Bytes()
	binary.BigEndian.PutUint32(out[0:4], uint32(v2CompressedEncodingCookie))
	binary.BigEndian.PutUint32(out[4:8], uint32(len(out)-8))
	// Room for the encoding and one byte more: MarshalJSON's closing quote.
	dst = slices.Grow(dst, base64.StdEncoding.EncodedLen(len(out))+1)
	return base64.StdEncoding.AppendEncode(dst, out), nil
}

// putZigZagLEB128 writes v as HdrHistogram's ZigZag LEB128-64b9B: up to eight
// 7-bit groups, and a ninth byte carrying the last 8 bits whole.
func putZigZagLEB128(buf []byte, v int64) int {
	u := uint64((v << 1) ^ (v >> 63))
	n := 0
	for n < 8 {
		if u>>7 == 0 {
			buf[n] = byte(u)
			return n + 1
		}
		buf[n] = byte(u&0x7f) | 0x80
		u >>= 7
		n++
	}
	buf[8] = byte(u)
	return 9
}
