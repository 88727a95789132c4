-- depends: 0007_police_acks
-- Evidence and privacy: snapshot index (the JPEGs are files, encrypted when a key is set),
-- visitors' desk photos, a check value per encryption key (a wrong key fails at start),
-- and the last purge of each retention class (the console's retention page).
CREATE TABLE snapshots (
    id TEXT PRIMARY KEY,          -- the id of the event it is evidence of
    ts TEXT NOT NULL,
    lane TEXT,
    camera TEXT,
    kind TEXT NOT NULL,           -- face | plate | scene
    person_id TEXT,
    parts TEXT NOT NULL,          -- "scene,crop"
    bytes INTEGER NOT NULL,
    key_id TEXT                   -- NULL: stored unencrypted
);
CREATE INDEX snapshots_ts ON snapshots(ts);
CREATE INDEX snapshots_person ON snapshots(person_id);

CREATE TABLE visitor_photos (
    visitor_id TEXT PRIMARY KEY REFERENCES visitors(id) ON DELETE CASCADE,
    bytes INTEGER NOT NULL,
    key_id TEXT,
    created_at TEXT NOT NULL
);

CREATE TABLE crypto_keys (
    key_id TEXT PRIMARY KEY,
    check_value BLOB NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE purge_log (
    class TEXT PRIMARY KEY,
    last_run TEXT NOT NULL,
    removed INTEGER NOT NULL,
    days INTEGER NOT NULL
);
