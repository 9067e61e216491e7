package sqlite

import (
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"time"
)

// Timestamps are stored as fixed-width RFC 3339 text in UTC with nanoseconds: they sort as
// text in time order, keep full time.Time precision (the zero time included) and read back as
// UTC without a monotonic reading.
const timeLayout = "2006-01-02T15:04:05.000000000Z"

// timeArg is a time.Time as a statement argument.
type timeArg time.Time

func (t timeArg) Value() (driver.Value, error) { return formatTime(time.Time(t)) }

// optTimeArg is a nullable time as a statement argument; nil is NULL.
type optTimeArg struct{ t *time.Time }

func (t optTimeArg) Value() (driver.Value, error) {
	if t.t == nil {
		return nil, nil
	}
	return formatTime(*t.t)
}

func formatTime(t time.Time) (string, error) {
	u := t.UTC()
	if y := u.Year(); y < 0 || y > 9999 {
		return "", fmt.Errorf("time %v is outside the years 0000 to 9999", t)
	}
	return u.Format(timeLayout), nil
}

// timeDst scans a timestamp column into a time.Time.
type timeDst struct{ t *time.Time }

func (d timeDst) Scan(src any) error {
	s, ok := src.(string)
	if !ok {
		return fmt.Errorf("timestamp column holds %T, want text", src)
	}
	t, err := time.Parse(timeLayout, s)
	if err != nil {
		return err
	}
	*d.t = t.UTC()
	return nil
}

// optTimeDst scans a nullable timestamp column into a *time.Time; NULL is nil.
type optTimeDst struct{ t **time.Time }

func (d optTimeDst) Scan(src any) error {
	if src == nil {
		*d.t = nil
		return nil
	}
	var t time.Time
	if err := (timeDst{&t}).Scan(src); err != nil {
		return err
	}
	*d.t = &t
	return nil
}

// stringsArg is a []string stored as JSON text; nil is the JSON null, so nil and empty
// slices stay apart.
type stringsArg []string

func (a stringsArg) Value() (driver.Value, error) {
	b, err := json.Marshal([]string(a))
	return string(b), err
}

// stringsDst scans a JSON text column written by stringsArg.
type stringsDst struct{ p *[]string }

func (d stringsDst) Scan(src any) error {
	var b []byte
	switch v := src.(type) {
	case string:
		b = []byte(v)
	case []byte:
		b = v
	default:
		return fmt.Errorf("JSON column holds %T, want text", src)
	}
	var out []string
	if err := json.Unmarshal(b, &out); err != nil {
		return err
	}
	*d.p = out
	return nil
}

// blob is a []byte as a statement argument. An empty slice is stored as NULL, like nil: the
// driver reads a zero-length BLOB back as nil anyway, so the store promises len() only.
func blob(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}
