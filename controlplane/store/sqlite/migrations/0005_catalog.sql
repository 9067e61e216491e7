-- 0005_catalog: the algorithm catalog.
--
-- catalog_details holds what an algorithm's catalog page shows beyond its settings. It goes
-- with its algorithm (ON DELETE CASCADE).
--
-- catalog_changes is the feed a catalog index held in memory catches up from: per algorithm
-- name, the sequence number of its latest change. The triggers below record a change in the
-- transaction of every write to algorithms, versions and catalog_details, so every writer (this
-- process, another process on the same file, another replica) feeds it and nothing that
-- committed is missed. One row per owner/name, deleted algorithms included: the table grows with
-- the number of names ever used, not with the number of writes. Versions and details are
-- deleted only with their algorithm (the cascade), whose own delete records the change.

CREATE TABLE catalog_details (
    algorithm_id  TEXT NOT NULL PRIMARY KEY REFERENCES algorithms (id) ON DELETE CASCADE,
    summary       TEXT NOT NULL,
    readme        TEXT NOT NULL,
    tags          TEXT NOT NULL, -- JSON array of strings, or JSON null
    license       TEXT NOT NULL,
    sample_input  BLOB,          -- JSON
    sample_output BLOB           -- JSON
) STRICT;

CREATE TABLE catalog_changes (
    owner TEXT    NOT NULL,
    name  TEXT    NOT NULL,
    seq   INTEGER NOT NULL UNIQUE,
    PRIMARY KEY (owner, name)
) STRICT;

-- "WHERE true" keeps SQLite from reading ON CONFLICT as a join constraint of the SELECT.
CREATE TRIGGER catalog_algorithm_insert AFTER INSERT ON algorithms BEGIN
    INSERT INTO catalog_changes (owner, name, seq)
        SELECT NEW.owner, NEW.name, COALESCE(MAX(seq), 0) + 1 FROM catalog_changes WHERE true
        ON CONFLICT (owner, name) DO UPDATE SET seq = excluded.seq;
END;

CREATE TRIGGER catalog_algorithm_update AFTER UPDATE ON algorithms BEGIN
    INSERT INTO catalog_changes (owner, name, seq)
        SELECT NEW.owner, NEW.name, COALESCE(MAX(seq), 0) + 1 FROM catalog_changes WHERE true
        ON CONFLICT (owner, name) DO UPDATE SET seq = excluded.seq;
END;

CREATE TRIGGER catalog_algorithm_delete AFTER DELETE ON algorithms BEGIN
    INSERT INTO catalog_changes (owner, name, seq)
        SELECT OLD.owner, OLD.name, COALESCE(MAX(seq), 0) + 1 FROM catalog_changes WHERE true
        ON CONFLICT (owner, name) DO UPDATE SET seq = excluded.seq;
END;

CREATE TRIGGER catalog_version_insert AFTER INSERT ON versions BEGIN
    INSERT INTO catalog_changes (owner, name, seq)
        SELECT a.owner, a.name, (SELECT COALESCE(MAX(seq), 0) + 1 FROM catalog_changes)
        FROM algorithms a WHERE a.id = NEW.algorithm_id
        ON CONFLICT (owner, name) DO UPDATE SET seq = excluded.seq;
END;

CREATE TRIGGER catalog_details_insert AFTER INSERT ON catalog_details BEGIN
    INSERT INTO catalog_changes (owner, name, seq)
        SELECT a.owner, a.name, (SELECT COALESCE(MAX(seq), 0) + 1 FROM catalog_changes)
        FROM algorithms a WHERE a.id = NEW.algorithm_id
        ON CONFLICT (owner, name) DO UPDATE SET seq = excluded.seq;
END;

CREATE TRIGGER catalog_details_update AFTER UPDATE ON catalog_details BEGIN
    INSERT INTO catalog_changes (owner, name, seq)
        SELECT a.owner, a.name, (SELECT COALESCE(MAX(seq), 0) + 1 FROM catalog_changes)
        FROM algorithms a WHERE a.id = NEW.algorithm_id
        ON CONFLICT (owner, name) DO UPDATE SET seq = excluded.seq;
END;
