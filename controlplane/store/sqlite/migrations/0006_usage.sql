-- 0006_usage: metering. One record per call (calls from inside algorithms included), charged to
-- the original caller; and each account's credit balance and call-rate limits. Credits are
-- integer micro-credits (1 credit = 1,000,000) so that sums are exact; durations are
-- nanoseconds.

CREATE TABLE call_records (
    seq             INTEGER PRIMARY KEY,
    id              TEXT    NOT NULL UNIQUE,
    started_at      TEXT    NOT NULL,
    account         TEXT    NOT NULL,
    key_id          TEXT    NOT NULL,
    version_id      TEXT    NOT NULL,
    author          TEXT    NOT NULL,
    parent          TEXT    NOT NULL,
    node_id         TEXT    NOT NULL,
    duration_ns     INTEGER NOT NULL,
    cold_start_ns   INTEGER NOT NULL,
    compute_seconds INTEGER NOT NULL,
    gpu_seconds     INTEGER NOT NULL,
    bytes_in        INTEGER NOT NULL,
    bytes_out       INTEGER NOT NULL,
    outcome         TEXT    NOT NULL,
    compute_micro   INTEGER NOT NULL,
    royalty_micro   INTEGER NOT NULL
) STRICT;

CREATE INDEX call_records_account ON call_records (account, started_at);
CREATE INDEX call_records_author ON call_records (author, started_at);

-- An account without a row is unlimited and has the installation's default rate limits.
-- credits_micro NULL: unlimited.
CREATE TABLE account_billing (
    account             TEXT    NOT NULL PRIMARY KEY REFERENCES accounts (name),
    credits_micro       INTEGER,
    rate_per_second     REAL    NOT NULL,
    burst               INTEGER NOT NULL,
    key_rate_per_second REAL    NOT NULL,
    key_burst           INTEGER NOT NULL,
    updated_at          TEXT    NOT NULL
) STRICT;
