-- depends: 0008_evidence_privacy
-- The console a guard works from all day (issue 16):
-- * a `host` role: staff answer their own visitors from their phone; a host user is tied to
--   the staff member (people.id) whose visitors they may approve. SQLite cannot change a
--   CHECK constraint in place, so the users table is rebuilt (sessions end: log in again).
-- * the campus map: one plan image and the places of lanes, readers and cameras on it.
CREATE TABLE users_new (
    username TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('guard', 'admin', 'host')),
    disabled INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    person_id TEXT
);
INSERT INTO users_new (username, password_hash, role, disabled, created_at)
    SELECT username, password_hash, role, disabled, created_at FROM users;
DELETE FROM sessions;
DROP TABLE users;
ALTER TABLE users_new RENAME TO users;

CREATE TABLE campus_map (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    image BLOB NOT NULL,
    media_type TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    updated_by TEXT NOT NULL
);

CREATE TABLE map_points (
    kind TEXT NOT NULL CHECK (kind IN ('lane', 'reader', 'camera')),
    ref TEXT NOT NULL,
    x REAL NOT NULL CHECK (x BETWEEN 0 AND 1),
    y REAL NOT NULL CHECK (y BETWEEN 0 AND 1),
    PRIMARY KEY (kind, ref)
);

-- The alarm poll (every page, every 1.5 s) counts open critical alerts.
CREATE INDEX alerts_open ON alerts(acknowledged_at, severity);
