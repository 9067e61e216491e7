-- 0001_init: the first schema.
--
-- Portable by design: TEXT ids, INTEGER 0/1 booleans (BOOLEAN in PostgreSQL), BLOB for hashes
-- and JSON documents (BYTEA/JSONB in PostgreSQL), timestamps as fixed-width RFC 3339 UTC text
-- with nanoseconds ("2006-01-02T15:04:05.000000000Z"), which sorts chronologically and casts to
-- timestamptz. A "seq INTEGER PRIMARY KEY" (an identity column in PostgreSQL) records insertion
-- order where a listing needs it. STRICT makes SQLite enforce the declared column types.

CREATE TABLE accounts (
    name       TEXT    NOT NULL PRIMARY KEY,
    admin      INTEGER NOT NULL CHECK (admin IN (0, 1)),
    created_at TEXT    NOT NULL
) STRICT;

CREATE TABLE api_keys (
    seq        INTEGER PRIMARY KEY,
    id         TEXT    NOT NULL UNIQUE,
    owner      TEXT    NOT NULL,
    name       TEXT    NOT NULL,
    hash       BLOB    NOT NULL UNIQUE,
    prefix     TEXT    NOT NULL,
    algos      TEXT    NOT NULL, -- JSON array of strings, or JSON null
    data       TEXT    NOT NULL,
    manage     INTEGER NOT NULL CHECK (manage IN (0, 1)),
    created_at TEXT    NOT NULL,
    expires_at TEXT,
    revoked_at TEXT
) STRICT;

CREATE INDEX api_keys_owner ON api_keys (owner, created_at);

CREATE TABLE algorithms (
    id          TEXT NOT NULL PRIMARY KEY,
    owner       TEXT NOT NULL,
    name        TEXT NOT NULL,
    description TEXT NOT NULL,
    settings    BLOB,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    UNIQUE (owner, name)
) STRICT;

CREATE TABLE versions (
    seq           INTEGER PRIMARY KEY,
    id            TEXT    NOT NULL UNIQUE,
    algorithm_id  TEXT    NOT NULL REFERENCES algorithms (id) ON DELETE CASCADE,
    semver        TEXT    NOT NULL,
    digest        TEXT    NOT NULL,
    manifest      BLOB,
    release_notes TEXT    NOT NULL,
    public        INTEGER NOT NULL CHECK (public IN (0, 1)),
    created_at    TEXT    NOT NULL,
    UNIQUE (algorithm_id, semver)
) STRICT;

CREATE TABLE pools (
    name            TEXT    NOT NULL PRIMARY KEY,
    cloud           TEXT    NOT NULL,
    spec            BLOB,
    join_token_hash BLOB UNIQUE,
    deleting        INTEGER NOT NULL CHECK (deleting IN (0, 1)),
    created_at      TEXT    NOT NULL,
    updated_at      TEXT    NOT NULL
) STRICT;

CREATE TABLE nodes (
    id            TEXT NOT NULL PRIMARY KEY,
    pool          TEXT NOT NULL,
    instance_id   TEXT NOT NULL,
    address       TEXT NOT NULL,
    token_hash    BLOB UNIQUE,
    capacity      BLOB,
    registered_at TEXT NOT NULL,
    last_seen_at  TEXT NOT NULL
) STRICT;

CREATE TABLE requests (
    seq          INTEGER PRIMARY KEY,
    id           TEXT NOT NULL UNIQUE,
    caller       TEXT NOT NULL,
    key_id       TEXT NOT NULL,
    version_id   TEXT NOT NULL,
    input        BLOB,
    options      BLOB,
    status       TEXT NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
    response     BLOB,
    created_at   TEXT NOT NULL,
    completed_at TEXT
) STRICT;

CREATE INDEX requests_pending ON requests (created_at, seq) WHERE status = 'pending';
