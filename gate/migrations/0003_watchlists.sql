-- depends: 0002_consent_and_exit_permissions
-- Watch lists pushed by the police or entered locally; the last good copy is used offline.
CREATE TABLE watchlists (
    name TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    version TEXT NOT NULL DEFAULT '',
    received_at TEXT NOT NULL,
    entries INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE watchlist_persons (
    id INTEGER PRIMARY KEY,
    list TEXT NOT NULL REFERENCES watchlists(name) ON DELETE CASCADE,
    entry_id TEXT NOT NULL,
    name TEXT NOT NULL,
    id_number TEXT NOT NULL DEFAULT '',
    reason TEXT NOT NULL DEFAULT '',
    severity TEXT NOT NULL DEFAULT 'critical'
);
CREATE INDEX watchlist_persons_idnum ON watchlist_persons(id_number);

CREATE TABLE watchlist_faces (
    id INTEGER PRIMARY KEY,
    person_row INTEGER NOT NULL REFERENCES watchlist_persons(id) ON DELETE CASCADE,
    encoding BLOB NOT NULL
);

CREATE TABLE watchlist_plates (
    id INTEGER PRIMARY KEY,
    list TEXT NOT NULL REFERENCES watchlists(name) ON DELETE CASCADE,
    plate TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    severity TEXT NOT NULL DEFAULT 'critical'
);
CREATE INDEX watchlist_plates_plate ON watchlist_plates(plate);
