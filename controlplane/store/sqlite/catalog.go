package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/algos-dev/algos/controlplane/store"
)

// The change feed (catalog_changes) is written by the triggers of migration 0005, in the
// transaction of each write; nothing here writes it.

const detailsColumns = `summary, readme, tags, license, sample_input, sample_output`

// PutAlgorithmDetails implements store.CatalogStore.
func (s *Store) PutAlgorithmDetails(ctx context.Context, owner, name string, d store.AlgorithmDetails) error {
	n, err := s.exec(ctx, `INSERT INTO catalog_details (algorithm_id, `+detailsColumns+`)
		SELECT id, ?, ?, ?, ?, ?, ? FROM algorithms WHERE owner = ? AND name = ?
		ON CONFLICT (algorithm_id) DO UPDATE SET summary = excluded.summary, readme = excluded.readme,
			tags = excluded.tags, license = excluded.license, sample_input = excluded.sample_input,
			sample_output = excluded.sample_output`,
		d.Summary, d.README, stringsArg(d.Tags), d.License, blob(d.SampleInput), blob(d.SampleOutput), owner, name)
	if err == nil && n == 0 {
		err = store.ErrNotFound
	}
	return s.fail(ctx, "put the catalog details of algorithm "+owner+"/"+name, err)
}

// GetAlgorithmDetails implements store.CatalogStore.
func (s *Store) GetAlgorithmDetails(ctx context.Context, owner, name string) (store.AlgorithmDetails, error) {
	var d store.AlgorithmDetails
	var has sql.NullString // catalog_details.algorithm_id: NULL when none were put
	err := s.db.QueryRowContext(ctx, `SELECT d.algorithm_id, `+prefixed("d.", detailsColumns)+`
		FROM algorithms a LEFT JOIN catalog_details d ON d.algorithm_id = a.id
		WHERE a.owner = ? AND a.name = ?`, owner, name).
		Scan(append([]any{&has}, detailsDst(&d)...)...)
	if err != nil {
		return store.AlgorithmDetails{}, s.fail(ctx, "catalog details of algorithm "+owner+"/"+name, err)
	}
	return d, nil
}

// CatalogChanges implements store.CatalogStore.
func (s *Store) CatalogChanges(ctx context.Context, after int64, limit int) ([]store.CatalogChange, error) {
	return list(ctx, s, "catalog changes", func(row scanner) (store.CatalogChange, error) {
		var c store.CatalogChange
		err := row.Scan(&c.Owner, &c.Name, &c.Seq)
		return c, err
	}, `SELECT owner, name, seq FROM catalog_changes WHERE seq > ? ORDER BY seq LIMIT ?`, after, max(limit, 0))
}

// LoadCatalog implements store.CatalogStore. It reads the sequence number first and the rows
// after, without holding a transaction open (which would hold the write lock: see dsn), so the
// rows reflect at least every change up to Seq.
func (s *Store) LoadCatalog(ctx context.Context) (store.Catalog, error) {
	var c store.Catalog
	if err := s.db.QueryRowContext(ctx, `SELECT COALESCE(MAX(seq), 0) FROM catalog_changes`).Scan(&c.Seq); err != nil {
		return c, s.fail(ctx, "load the catalog", err)
	}
	algs, err := list(ctx, s, "load the catalog", func(row scanner) (store.CatalogAlgorithm, error) {
		var ca store.CatalogAlgorithm
		a := &ca.Algorithm
		var has sql.NullString
		dst := append([]any{&a.ID, &a.Owner, &a.Name, &a.Description, &a.Settings, timeDst{&a.CreatedAt}, timeDst{&a.UpdatedAt}, &has},
			detailsDst(&ca.Details)...)
		err := row.Scan(dst...)
		return ca, err
	}, `SELECT `+prefixed("a.", algorithmColumns)+`, d.algorithm_id, `+prefixed("d.", detailsColumns)+`
		FROM algorithms a LEFT JOIN catalog_details d ON d.algorithm_id = a.id ORDER BY a.owner, a.name`)
	if err != nil {
		return c, err
	}
	byID := make(map[string]int, len(algs))
	for i, a := range algs {
		byID[a.Algorithm.ID] = i
	}
	rows, err := s.db.QueryContext(ctx, `SELECT v.algorithm_id, `+versionColumns+`
		FROM versions v JOIN algorithms a ON a.id = v.algorithm_id ORDER BY v.seq`)
	if err != nil {
		return c, s.fail(ctx, "load the catalog's versions", err)
	}
	defer rows.Close()
	for rows.Next() {
		var algID string
		var v store.Version
		if err := rows.Scan(&algID, &v.ID, &v.Owner, &v.Name, &v.Semver, &v.Digest, &v.Manifest, &v.ReleaseNotes,
			&v.Public, timeDst{&v.CreatedAt}); err != nil {
			return c, s.fail(ctx, "load the catalog's versions", err)
		}
		// A version of an algorithm created after the first read: its change is numbered
		// above Seq, so the caller reads it then.
		if i, ok := byID[algID]; ok {
			algs[i].Versions = append(algs[i].Versions, v)
		}
	}
	if err := rows.Err(); err != nil {
		return c, s.fail(ctx, "load the catalog's versions", err)
	}
	c.Algorithms = algs
	return c, nil
}

// ImportCatalog implements store.CatalogStore, with one prepared statement per table.
func (s *Store) ImportCatalog(ctx context.Context, algs []store.CatalogAlgorithm) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		insAlg, err := tx.PrepareContext(ctx, `INSERT INTO algorithms (`+algorithmColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?)`)
		if err != nil {
			return err
		}
		defer insAlg.Close()
		insDetails, err := tx.PrepareContext(ctx, `INSERT INTO catalog_details (algorithm_id, `+detailsColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?)`)
		if err != nil {
			return err
		}
		defer insDetails.Close()
		insVersion, err := tx.PrepareContext(ctx, `INSERT INTO versions
			(id, algorithm_id, semver, digest, manifest, release_notes, public, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`)
		if err != nil {
			return err
		}
		defer insVersion.Close()
		for _, ca := range algs {
			a, d := ca.Algorithm, ca.Details
			if _, err := insAlg.ExecContext(ctx, a.ID, a.Owner, a.Name, a.Description, blob(a.Settings), timeArg(a.CreatedAt), timeArg(a.UpdatedAt)); err != nil {
				return fmt.Errorf("algorithm %s/%s: %w", a.Owner, a.Name, err)
			}
			if _, err := insDetails.ExecContext(ctx, a.ID, d.Summary, d.README, stringsArg(d.Tags), d.License, blob(d.SampleInput), blob(d.SampleOutput)); err != nil {
				return fmt.Errorf("algorithm %s/%s: details: %w", a.Owner, a.Name, err)
			}
			for _, v := range ca.Versions {
				if _, err := insVersion.ExecContext(ctx, v.ID, a.ID, v.Semver, v.Digest, blob(v.Manifest), v.ReleaseNotes, v.Public, timeArg(v.CreatedAt)); err != nil {
					return fmt.Errorf("version %s/%s/%s: %w", a.Owner, a.Name, v.Semver, err)
				}
			}
		}
		return nil
	})
	return s.fail(ctx, fmt.Sprintf("import %d algorithms", len(algs)), err)
}

// detailsDst scans the details columns (after a LEFT JOIN: all NULL when none were put).
func detailsDst(d *store.AlgorithmDetails) []any {
	return []any{nullString{&d.Summary}, nullString{&d.README}, nullStrings{&d.Tags}, nullString{&d.License},
		&d.SampleInput, &d.SampleOutput}
}

// nullString scans a text column; NULL is "".
type nullString struct{ p *string }

func (d nullString) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*d.p = ""
	case string:
		*d.p = v
	case []byte:
		*d.p = string(v)
	default:
		return errors.New("text column holds a non-text value")
	}
	return nil
}

// nullStrings scans a JSON text column written by stringsArg; NULL is nil.
type nullStrings struct{ p *[]string }

func (d nullStrings) Scan(src any) error {
	if src == nil {
		*d.p = nil
		return nil
	}
	return stringsDst(d).Scan(src)
}

// prefixed qualifies each column of a comma-separated list with a table alias.
func prefixed(alias, columns string) string {
	out := make([]byte, 0, len(columns)+8*len(alias))
	out = append(out, alias...)
	for i := 0; i < len(columns); i++ {
		out = append(out, columns[i])
		if columns[i] == ' ' && i > 0 && columns[i-1] == ',' {
			out = append(out, alias...)
		}
	}
	return string(out)
}
