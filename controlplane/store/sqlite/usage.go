package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/algos-dev/algos/controlplane/store"
)

const callColumns = `id, started_at, account, key_id, version_id, author, parent, node_id, duration_ns, cold_start_ns,
	compute_seconds, gpu_seconds, bytes_in, bytes_out, outcome, compute_micro, royalty_micro`

func scanCall(row scanner) (store.CallRecord, error) {
	var r store.CallRecord
	var dur, cold int64
	err := row.Scan(&r.ID, timeDst{&r.At}, &r.Account, &r.KeyID, &r.VersionID, &r.Author, &r.Parent, &r.NodeID, &dur, &cold,
		&r.ComputeSeconds, &r.GPUSeconds, &r.BytesIn, &r.BytesOut, &r.Outcome, &r.ComputeMicro, &r.RoyaltyMicro)
	r.Duration, r.ColdStart = time.Duration(dur), time.Duration(cold)
	return r, err
}

// AddCalls implements store.UsageStore.
func (s *Store) AddCalls(ctx context.Context, rs []store.CallRecord) (int, error) {
	if len(rs) == 0 {
		return 0, nil
	}
	for _, r := range rs {
		if r.ID == "" {
			return 0, errors.New("add call records: a record has no ID")
		}
	}
	added := 0
	err := s.write(ctx, func(tx *sql.Tx) error {
		added = 0
		charges := map[string]int64{}
		// Many rows per statement: one statement per record costs most of the time in the
		// driver, not in SQLite. RETURNING names the rows actually inserted (a retried batch
		// skips those already stored and charges them once).
		const perStatement = 64
		statement := func(n int) string {
			var q strings.Builder
			q.WriteString(`INSERT INTO call_records (` + callColumns + `) VALUES `)
			for i := range n {
				if i > 0 {
					q.WriteString(", ")
				}
				q.WriteString("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
			}
			q.WriteString(` ON CONFLICT (id) DO NOTHING RETURNING account, compute_micro + royalty_micro`)
			return q.String()
		}
		var full *sql.Stmt // the statement of a whole batch, prepared once
		defer func() {
			if full != nil {
				full.Close()
			}
		}()
		for start := 0; start < len(rs); start += perStatement {
			batch := rs[start:min(start+perStatement, len(rs))]
			args := make([]any, 0, len(batch)*17)
			for _, r := range batch {
				args = append(args, r.ID, timeArg(r.At), r.Account, r.KeyID, r.VersionID, r.Author, r.Parent, r.NodeID,
					int64(r.Duration), int64(r.ColdStart), r.ComputeSeconds, r.GPUSeconds, r.BytesIn, r.BytesOut, r.Outcome,
					r.ComputeMicro, r.RoyaltyMicro)
			}
			var rows *sql.Rows
			var err error
			if len(batch) == perStatement {
				if full == nil {
					if full, err = tx.PrepareContext(ctx, statement(perStatement)); err != nil {
						return err
					}
				}
				rows, err = full.QueryContext(ctx, args...)
			} else {
				rows, err = tx.QueryContext(ctx, statement(len(batch)), args...)
			}
			if err != nil {
				return err
			}
			for rows.Next() {
				var account string
				var charge int64
				if err := rows.Scan(&account, &charge); err != nil {
					rows.Close()
					return err
				}
				added++
				charges[account] += charge
			}
			if err := rows.Err(); err != nil {
				rows.Close()
				return err
			}
			if err := rows.Close(); err != nil {
				return err
			}
		}
		for account, c := range charges {
			if c == 0 {
				continue
			}
			if _, err := tx.ExecContext(ctx, `UPDATE account_billing SET credits_micro = credits_micro - ?
				WHERE account = ? AND credits_micro IS NOT NULL`, c, account); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, s.fail(ctx, fmt.Sprintf("add %d call records", len(rs)), err)
	}
	return added, nil
}

// callWhere is a filter of call records as SQL.
type callWhere store.CallFilter

// sql returns the filter's WHERE clause and its arguments.
func (f callWhere) sql() (string, []any) {
	var conds []string
	var args []any
	if f.Account != "" {
		conds, args = append(conds, "account = ?"), append(args, f.Account)
	}
	if f.Author != "" {
		conds, args = append(conds, "author = ?"), append(args, f.Author)
	}
	if !f.From.IsZero() {
		conds, args = append(conds, "started_at >= ?"), append(args, timeArg(f.From))
	}
	if !f.To.IsZero() {
		conds, args = append(conds, "started_at < ?"), append(args, timeArg(f.To))
	}
	if len(conds) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(conds, " AND "), args
}

// ListCalls implements store.UsageStore.
func (s *Store) ListCalls(ctx context.Context, f store.CallFilter) ([]store.CallRecord, error) {
	where, args := callWhere(f).sql()
	q := `SELECT ` + callColumns + ` FROM call_records` + where + ` ORDER BY started_at DESC, seq DESC`
	if f.Limit > 0 {
		q += ` LIMIT ?`
		args = append(args, f.Limit)
	}
	return list(ctx, s, "list call records", scanCall, q, args...)
}

// UsageBuckets implements store.UsageStore. Timestamps are fixed-width text, so a bucket is
// a prefix: the first 13 characters ("2006-01-02T15") for an hour, 10 for a day.
func (s *Store) UsageBuckets(ctx context.Context, f store.CallFilter, bucket store.UsageBucket) ([]store.UsageRow, error) {
	var n int
	var layout string
	switch bucket {
	case store.BucketHour:
		n, layout = 13, "2006-01-02T15"
	case store.BucketDay:
		n, layout = 10, "2006-01-02"
	default:
		return nil, fmt.Errorf("usage buckets: unknown bucket %q (want %q or %q)", bucket, store.BucketHour, store.BucketDay)
	}
	where, args := callWhere(f).sql()
	q := fmt.Sprintf(`SELECT substr(started_at, 1, %d) AS b, version_id, COUNT(*), SUM(outcome <> ''), SUM(duration_ns),
		SUM(compute_seconds), SUM(gpu_seconds), SUM(bytes_in), SUM(bytes_out), SUM(compute_micro), SUM(royalty_micro)
		FROM call_records%s GROUP BY b, version_id ORDER BY b, version_id`, n, where)
	return list(ctx, s, "usage", func(row scanner) (store.UsageRow, error) {
		var r store.UsageRow
		var b string
		var dur int64
		if err := row.Scan(&b, &r.VersionID, &r.Calls, &r.Errors, &dur, &r.ComputeSeconds, &r.GPUSeconds,
			&r.BytesIn, &r.BytesOut, &r.ComputeMicro, &r.RoyaltyMicro); err != nil {
			return r, err
		}
		r.Duration = time.Duration(dur)
		t, err := time.Parse(layout, b)
		r.Bucket = t.UTC()
		return r, err
	}, q, args...)
}

const billingColumns = `account, credits_micro, rate_per_second, burst, key_rate_per_second, key_burst, updated_at`

func scanBilling(row scanner) (store.Billing, error) {
	var b store.Billing
	var credits sql.NullInt64
	err := row.Scan(&b.Account, &credits, &b.RatePerSecond, &b.Burst, &b.KeyRatePerSecond, &b.KeyBurst, timeDst{&b.UpdatedAt})
	if credits.Valid {
		b.CreditsMicro = &credits.Int64
	}
	return b, err
}

func optInt(p *int64) any {
	if p == nil {
		return nil
	}
	return *p
}

// GetBilling implements store.UsageStore.
func (s *Store) GetBilling(ctx context.Context, account string) (store.Billing, error) {
	b, err := scanBilling(s.db.QueryRowContext(ctx, `SELECT `+billingColumns+` FROM account_billing WHERE account = ?`, account))
	if err != nil {
		return store.Billing{}, s.fail(ctx, "billing of account "+account, err)
	}
	return b, nil
}

// ListBilling implements store.UsageStore.
func (s *Store) ListBilling(ctx context.Context) ([]store.Billing, error) {
	return list(ctx, s, "list billing", scanBilling, `SELECT `+billingColumns+` FROM account_billing ORDER BY account`)
}

// PutBilling implements store.UsageStore.
func (s *Store) PutBilling(ctx context.Context, b store.Billing) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		var one int
		if err := tx.QueryRowContext(ctx, `SELECT 1 FROM accounts WHERE name = ?`, b.Account).Scan(&one); err != nil {
			return err // sql.ErrNoRows: store.ErrNotFound
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO account_billing (`+billingColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (account) DO UPDATE SET credits_micro = excluded.credits_micro, rate_per_second = excluded.rate_per_second,
			burst = excluded.burst, key_rate_per_second = excluded.key_rate_per_second, key_burst = excluded.key_burst,
			updated_at = excluded.updated_at`,
			b.Account, optInt(b.CreditsMicro), b.RatePerSecond, b.Burst, b.KeyRatePerSecond, b.KeyBurst, timeArg(b.UpdatedAt))
		return err
	})
	return s.fail(ctx, "set billing of account "+b.Account, err)
}

// AddCredits implements store.UsageStore.
func (s *Store) AddCredits(ctx context.Context, account string, micro int64, at time.Time) (store.Billing, error) {
	var out store.Billing
	err := s.write(ctx, func(tx *sql.Tx) error {
		b, err := scanBilling(tx.QueryRowContext(ctx, `SELECT `+billingColumns+` FROM account_billing WHERE account = ?`, account))
		if err != nil {
			return err // sql.ErrNoRows: store.ErrNotFound
		}
		if b.CreditsMicro == nil {
			return fmt.Errorf("its credits are unlimited: %w", store.ErrConflict)
		}
		c := *b.CreditsMicro + micro
		b.CreditsMicro, b.UpdatedAt = &c, at
		if _, err := tx.ExecContext(ctx, `UPDATE account_billing SET credits_micro = ?, updated_at = ? WHERE account = ?`,
			c, timeArg(at), account); err != nil {
			return err
		}
		out = b
		return nil
	})
	if err != nil {
		return store.Billing{}, s.fail(ctx, "add credits to account "+account, err)
	}
	out.UpdatedAt = out.UpdatedAt.UTC()
	return out, nil
}
