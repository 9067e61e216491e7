-- 0002_cloud_accounts: cloud accounts that node pools provision in. Credentials are stored
-- sealed (AES-256-GCM) by the control plane; the store never sees them in clear.

CREATE TABLE cloud_accounts (
    name        TEXT NOT NULL PRIMARY KEY,
    cloud       TEXT NOT NULL,
    settings    BLOB,
    credentials BLOB,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
) STRICT;
