package results

import (
	"bytes"
	"compress/zlib"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"sync"
)

// The cookies as written: the base (mergejson.go) with the word size 0x10.
const (
	v2EncodingCookie           int32 = v2EncodingCookieBase | 0x10
	v2CompressedEncodingCookie int32 = v2CompressedCookieBase | 0x10
)

// zlibWriters reuses compressors across histograms. hdrhistogram-go's own
// Encode allocates a new best-compression zlib writer (≈1 MB of state) per
// histogram, which dominated peak memory when a long run's hundreds of window
// histograms were written out. The level stays BestCompression, so our bytes
// equal the reference encoder's. The pool is a cache, not state: any writer
// from it is Reset before use.
var zlibWriters = sync.Pool{New: func() any {
	w, _ := zlib.NewWriterLevel(nil, zlib.BestCompression)
	return w
}}

// encodeV2Compressed writes the standard base64 V2 compressed encoding of h,
// byte-compatible with every HdrHistogram decoder.
func encodeV2Compressed(h *Histogram) (string, error) {
	counts := h.counts()
	limit := len(counts)
	for limit > 1 && counts[limit-1] == 0 {
		limit-- // the reference writes up to the bucket of Max(), at least one
	}
	var payload bytes.Buffer
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

	var raw bytes.Buffer
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
		if err := binary.Write(&raw, binary.BigEndian, v); err != nil {
			return "", err
		}
	}
	raw.Write(payload.Bytes())

	var compressed bytes.Buffer
	zw := zlibWriters.Get().(*zlib.Writer)
	zw.Reset(&compressed)
	_, werr := zw.Write(raw.Bytes())
	cerr := zw.Close()
	zlibWriters.Put(zw)
	if werr != nil || cerr != nil {
		return "", fmt.Errorf("encode histogram: compress: %v %v", werr, cerr)
	}

	out := make([]byte, 8, 8+compressed.Len())
	binary.BigEndian.PutUint32(out[0:4], uint32(v2CompressedEncodingCookie))
	binary.BigEndian.PutUint32(out[4:8], uint32(compressed.Len()))
	out = append(out, compressed.Bytes()...)
	return base64.StdEncoding.EncodeToString(out), nil
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
