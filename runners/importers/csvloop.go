package importers

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
)

// eachCSVRecord is the importers' one CSV read loop. It checks ctx every
// checkEvery records, reports a malformed record as a bad line (b.bad
// decides whether the import goes on) and calls fn with each record and its
// line. Any error from fn stops the import: fn reports a skippable record
// with b.bad itself. fn must not keep rec (the reader may reuse it).
func eachCSVRecord(ctx context.Context, in *input, b *builder, cr *csv.Reader, fn func(rec []string, line int64) error) error {
	for n := int64(1); ; n++ {
		if n%checkEvery == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				if err := b.bad(in.errorf(int64(pe.StartLine), "%v", pe.Err)); err != nil {
					return err
				}
				continue
			}
			return fmt.Errorf("%s: %w", in.name, err)
		}
		line, _ := cr.FieldPos(0)
		if err := fn(rec, int64(line)); err != nil {
			return err
		}
	}
}
