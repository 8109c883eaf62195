package sqlite

import (
	"context"
	"database/sql"
	"strings"
)

// bulkSizes are the row counts of a bulk statement's prepared forms. n rows
// are written as n's binary decomposition: a batch of up to 127 rows takes
// at most 7 statements, and each form is compiled once, at Open. One
// statement per row would cost a VDBE run, its binds and database/sql's
// bookkeeping for every row.
var bulkSizes = []int{64, 32, 16, 8, 4, 2, 1}

// bulk is a multi-row statement (an INSERT's VALUES list, or the VALUES of
// an UPDATE ... FROM), prepared for each of bulkSizes.
type bulk struct {
	width int         // values per row
	stmts []*sql.Stmt // stmts[i] takes bulkSizes[i] rows
}

// prepareBulk prepares head + rows + tail, rows being bulkSizes[i] groups
// of width parameters. Values common to all rows come first: head refers
// to them as ?1, ?2..., which numbers the rows' anonymous parameters after
// them. The rows' parameters must stay anonymous: the driver looks each
// parameter's name up, a scan of the numbered ones, which with a thousand
// numbered parameters cost more than the statement.
func prepareBulk(ctx context.Context, db *sql.DB, head, tail string, width int) (*bulk, error) {
	b := &bulk{width: width}
	for _, size := range bulkSizes {
		var q strings.Builder
		q.WriteString(head)
		for r := range size {
			if r > 0 {
				q.WriteString(", ")
			}
			q.WriteByte('(')
			for c := range width {
				if c > 0 {
					q.WriteByte(',')
				}
				q.WriteByte('?')
			}
			q.WriteByte(')')
		}
		q.WriteString(tail)
		st, err := db.PrepareContext(ctx, q.String())
		if err != nil {
			b.close()
			return nil, err
		}
		b.stmts = append(b.stmts, st)
	}
	return b, nil
}

func (b *bulk) close() {
	if b == nil {
		return
	}
	for _, st := range b.stmts {
		st.Close()
	}
}

// rowSet buffers the rows of one bulk statement within a transaction.
type rowSet struct {
	b     *bulk
	fixed []any // the leading parameters of every statement
	args  []any // width values per row
}

func (r *rowSet) add(vals ...any) { r.args = append(r.args, vals...) }

func (r *rowSet) rows() int { return len(r.args) / r.b.width }

// flush runs the buffered rows. Should a statement fail, its rows are run
// one at a time so that the error is one row's: rowErr(i, err) gets the
// index of that row among those buffered and returns the error to stop
// with, or nil to skip the row and go on; a nil rowErr returns the error
// as it is. A failed statement has undone its own rows (SQLite's
// statement rollback), so none is written twice.
func (r *rowSet) flush(ctx context.Context, tx *sql.Tx, rowErr func(row int, err error) error) error {
	if rowErr == nil {
		rowErr = func(_ int, err error) error { return err }
	}
	args, row := r.args, 0
	r.args = r.args[:0]
	var buf []any
	for i, size := range bulkSizes {
		n := size * r.b.width
		for ; len(args) >= n; args, row = args[n:], row+size {
			buf = append(append(buf[:0], r.fixed...), args[:n]...)
			_, err := tx.StmtContext(ctx, r.b.stmts[i]).ExecContext(ctx, buf...)
			if err == nil {
				continue
			}
			if size == 1 {
				if err := rowErr(row, err); err != nil {
					return err
				}
				continue
			}
			one := tx.StmtContext(ctx, r.b.stmts[len(bulkSizes)-1])
			for k := range size {
				buf = append(append(buf[:0], r.fixed...), args[k*r.b.width:(k+1)*r.b.width]...)
				if _, err := one.ExecContext(ctx, buf...); err != nil {
					if err := rowErr(row+k, err); err != nil {
						return err
					}
				}
			}
		}
	}
	return nil
}
