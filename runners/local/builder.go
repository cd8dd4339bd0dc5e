package local

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/loadgate/loadgate/plan"
)

// The request builder: per-request values for templated endpoints
// ({{ data.x.y }}, uuid, randint, seq). It is a layer apart from the
// senders: an endpoint without a template (after setup variables are
// substituted, once) has no builder and costs nothing; a templated one
// renders its prebuilt request head (fast path), URL and headers (net/http)
// and body into the worker's buffers, then hands them to the sender.

// escape modes of a rendered value, by where it lands.
const (
	escNone   uint8 = iota // body: as it is
	escURL                 // path and query: bytes that would break the request line are %-encoded
	escHeader              // header value: control characters become spaces
)

// piece is a literal run or one expression of a compiled template.
type piece struct {
	lit  string
	part plan.TemplatePart // Kind TmplLiteral for lit
	esc  uint8
}

// pieces is a compiled template.
type pieces []piece

// dynamic is a templated endpoint's builder.
type dynamic struct {
	head    pieces   // fast path: request head (nil when the fast path is off)
	url     pieces   // net/http: full URL
	headers []dynHdr // net/http: templated header values
	body    pieces   // nil: the endpoint's fixed body
	sources []int    // data sources the endpoint reads (one row each per request)
	seq     atomic.Int64
}

type dynHdr struct {
	name  string
	value pieces
}

// dataState is a run's data sources: this worker's share of rows and the
// shared cursors.
type dataState struct {
	sources []*source
	shard   int // this process's share: worker index and count
	shards  int
}

type source struct {
	name string
	mode string
	cols []string
	rows [][]string
	next atomic.Uint64
}

// newDataState takes this worker's share of every source: sequential and
// unique sources are split by row index modulo the worker count, so unique
// values stay unique across workers; random sources are used whole.
func newDataState(p *plan.Plan, shard, shards int) (*dataState, error) {
	if shards <= 0 {
		shards, shard = 1, 0
	}
	ds := &dataState{shard: shard, shards: shards}
	for _, d := range p.Data {
		s := &source{name: d.Name, mode: d.Mode, cols: d.Columns, rows: d.Rows}
		if d.Mode != plan.ModeRandom && shards > 1 {
			s.rows = nil
			for i := shard; i < len(d.Rows); i += shards {
				s.rows = append(s.rows, d.Rows[i])
			}
			if len(s.rows) == 0 {
				if d.Mode == plan.ModeUnique {
					return nil, fmt.Errorf("data source %s has %d rows, fewer than the %d workers (mode unique gives each worker its own rows)", d.Name, len(d.Rows), shards)
				}
				s.rows = d.Rows // sequential: too few rows to split; every worker cycles through all
			}
		}
		ds.sources = append(ds.sources, s)
	}
	return ds, nil
}

// tstate is a worker's builder state: its random source, the rows chosen for
// the current request and the buffers the request is rendered into.
type tstate struct {
	rng  *rand.Rand
	rows [][]string // by source index: the current request's row
	head []byte
	body []byte
	url  []byte
	val  []byte
}

func newTState(nsources int) *tstate {
	return &tstate{rng: rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64())), rows: make([][]string, nsources)}
}

// pick chooses this request's row of every source the endpoint reads. It
// reports the name of a unique source that has run out.
func (d *dataState) pick(t *tstate, dyn *dynamic) (exhausted string) {
	for _, si := range dyn.sources {
		s := d.sources[si]
		switch s.mode {
		case plan.ModeRandom:
			t.rows[si] = s.rows[t.rng.IntN(len(s.rows))]
		case plan.ModeUnique:
			i := s.next.Add(1) - 1
			if i >= uint64(len(s.rows)) {
				return s.name
			}
			t.rows[si] = s.rows[i]
		default:
			t.rows[si] = s.rows[(s.next.Add(1)-1)%uint64(len(s.rows))]
		}
	}
	return ""
}

// render appends the template to dst.
func (ps pieces) render(dst []byte, t *tstate, d *dataState, dyn *dynamic, seq int64) []byte {
	for i := range ps {
		pc := &ps[i]
		if pc.part.Kind == plan.TmplLiteral {
			dst = append(dst, pc.lit...)
			continue
		}
		v := t.val[:0]
		switch pc.part.Kind {
		case plan.TmplData:
			v = append(v, t.rows[pc.part.SourceIndex][pc.part.ColumnIndex]...)
		case plan.TmplUUID:
			v = appendUUID(v, t.rng)
		case plan.TmplRandInt:
			span := uint64(pc.part.Hi - pc.part.Lo)
			var n uint64
			if span == ^uint64(0) {
				n = t.rng.Uint64()
			} else {
				n = t.rng.Uint64N(span + 1)
			}
			v = strconv.AppendInt(v, pc.part.Lo+int64(n), 10)
		case plan.TmplSeq:
			v = strconv.AppendInt(v, seq, 10)
		}
		t.val = v
		dst = appendEscaped(dst, v, pc.esc)
	}
	return dst
}

func appendUUID(dst []byte, rng *rand.Rand) []byte {
	var b [16]byte
	hi, lo := rng.Uint64(), rng.Uint64()
	for i := range 8 {
		b[i] = byte(hi >> (8 * i))
		b[8+i] = byte(lo >> (8 * i))
	}
	b[6] = b[6]&0x0f | 0x40 // version 4
	b[8] = b[8]&0x3f | 0x80 // RFC 4122 variant
	const hexd = "0123456789abcdef"
	for i, x := range b {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			dst = append(dst, '-')
		}
		dst = append(dst, hexd[x>>4], hexd[x&0xf])
	}
	return dst
}

// appendEscaped appends v as it may appear where esc says.
func appendEscaped(dst, v []byte, esc uint8) []byte {
	switch esc {
	case escURL:
		const hexd = "0123456789ABCDEF"
		for _, c := range v {
			if c <= ' ' || c >= 0x7f || strings.IndexByte("\"#<>\\^`{|}", c) >= 0 {
				dst = append(dst, '%', hexd[c>>4], hexd[c&0xf])
			} else {
				dst = append(dst, c)
			}
		}
		return dst
	case escHeader:
		for _, c := range v {
			if c < ' ' && c != '\t' || c == 0x7f {
				c = ' '
			}
			dst = append(dst, c)
		}
		return dst
	}
	return append(dst, v...)
}

// build renders one request of a templated endpoint into t's buffers: the
// fast path's head, or (fast == false) a net/http request cloned from tmpl.
// exhausted names a unique data source that has run out (nothing built).
func (dyn *dynamic) build(t *tstate, d *dataState, ep *endpoint, fast bool) (req *http.Request, exhausted string, err error) {
	if exhausted = d.pick(t, dyn); exhausted != "" {
		return nil, exhausted, nil
	}
	seq := dyn.seq.Add(1)
	seq = (seq-1)*int64(d.shards) + int64(d.shard) + 1
	if dyn.body != nil {
		t.body = dyn.body.render(t.body[:0], t, d, dyn, seq)
	}
	if fast {
		t.head = dyn.head.render(t.head[:0], t, d, dyn, seq)
		return nil, "", nil
	}
	t.url = dyn.url.render(t.url[:0], t, d, dyn, seq)
	u, err := url.Parse(string(t.url))
	if err != nil {
		return nil, "", err
	}
	req = ep.tmpl.Clone(ep.tmpl.Context())
	req.URL = u
	for _, h := range dyn.headers {
		t.val = h.value.render(t.val[:0], t, d, dyn, seq)
		if strings.EqualFold(h.name, "Host") {
			req.Host = string(t.val)
			continue
		}
		req.Header.Set(h.name, string(t.val))
	}
	return req, "", nil
}

// placeholder marks expression k while the request is assembled with the
// code of plain endpoints; it contains only characters that survive URL
// parsing and header checks unchanged.
func placeholder(k int) string { return "__lgtpl" + strconv.Itoa(k) + "__" }

// templating compiles an endpoint's templates. vars are setup's values,
// substituted once. It returns the texts with every remaining expression
// replaced by a placeholder, and the expressions by placeholder index.
type templating struct {
	exprs []piece
}

// compile turns text into a placeholder text, recording its expressions;
// vars are substituted as literals.
func (tp *templating) compile(p *plan.Plan, text string, vars map[string]string, names []string, esc uint8) (string, error) {
	t, err := p.CompileTemplate(text, names)
	if err != nil || t == nil {
		return text, err
	}
	var b strings.Builder
	for _, pt := range t.Parts {
		switch pt.Kind {
		case plan.TmplLiteral:
			b.WriteString(pt.Lit)
		case plan.TmplVar:
			b.Write(appendEscaped(nil, []byte(vars[pt.Var]), esc))
		default:
			b.WriteString(placeholder(len(tp.exprs)))
			tp.exprs = append(tp.exprs, piece{part: pt, esc: esc})
		}
	}
	return b.String(), nil
}

// split turns a placeholder text into pieces.
func (tp *templating) split(s string) pieces {
	var out pieces
	for s != "" {
		i := strings.Index(s, "__lgtpl")
		if i < 0 {
			break
		}
		j := strings.Index(s[i+7:], "__")
		if j < 0 {
			break
		}
		k, err := strconv.Atoi(s[i+7 : i+7+j])
		if err != nil || k < 0 || k >= len(tp.exprs) {
			out = append(out, piece{lit: s[:i+7]})
			s = s[i+7:]
			continue
		}
		if i > 0 {
			out = append(out, piece{lit: s[:i]})
		}
		out = append(out, tp.exprs[k])
		s = s[i+7+j+2:]
	}
	if s != "" {
		out = append(out, piece{lit: s})
	}
	return out
}

// sources lists the data sources the expressions read.
func (tp *templating) sources() []int {
	var out []int
	seen := map[int]bool{}
	for _, e := range tp.exprs {
		if e.part.Kind == plan.TmplData && !seen[e.part.SourceIndex] {
			seen[e.part.SourceIndex] = true
			out = append(out, e.part.SourceIndex)
		}
	}
	return out
}
