-- 0004_connectors: the Data API's connectors to external object stores (s3://, gs://, azure://).
-- owner '' is a platform-wide connector; an account's connector may share its name. Buckets and
-- prefixes are JSON arrays of strings (or JSON null). Credentials are stored sealed
-- (AES-256-GCM) by the control plane; the store never sees them in clear.

CREATE TABLE connectors (
    owner         TEXT    NOT NULL,
    name          TEXT    NOT NULL,
    kind          TEXT    NOT NULL,
    buckets       TEXT    NOT NULL,
    prefixes      TEXT    NOT NULL,
    can_read      INTEGER NOT NULL CHECK (can_read IN (0, 1)),
    can_write     INTEGER NOT NULL CHECK (can_write IN (0, 1)),
    endpoint      TEXT    NOT NULL,
    region        TEXT    NOT NULL,
    allow_private INTEGER NOT NULL CHECK (allow_private IN (0, 1)),
    credentials   BLOB,
    created_at    TEXT    NOT NULL,
    updated_at    TEXT    NOT NULL,
    PRIMARY KEY (owner, name)
) STRICT;
