-- 0007_orgs: organizations. An account is a user or an organization; organizations own
-- algorithms and collections as users do, and users act for them through their membership.

ALTER TABLE accounts ADD COLUMN org INTEGER NOT NULL DEFAULT 0 CHECK (org IN (0, 1));

CREATE TABLE memberships (
    org        TEXT NOT NULL REFERENCES accounts (name) ON DELETE CASCADE,
    member     TEXT NOT NULL REFERENCES accounts (name) ON DELETE CASCADE,
    role       TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
    created_at TEXT NOT NULL,
    PRIMARY KEY (org, member)
) STRICT;

CREATE INDEX memberships_member ON memberships (member);
