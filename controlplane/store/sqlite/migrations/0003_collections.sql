-- 0003_collections: the Data API's collections (data://owner/name/…). Their files live in the
-- blob store under data/{owner}/{name}/; this table holds who owns each and who may read it.

CREATE TABLE collections (
    owner      TEXT NOT NULL,
    name       TEXT NOT NULL,
    acl        TEXT NOT NULL CHECK (acl IN ('public', 'my_algorithms', 'private')),
    created_at TEXT NOT NULL,
    PRIMARY KEY (owner, name)
) STRICT;
