-- The first schema: identities, credentials, biometrics kept apart, the journal and the outbox.
CREATE TABLE people (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('student', 'staff')),
    class_name TEXT NOT NULL DEFAULT '',
    face_consent INTEGER NOT NULL DEFAULT 0,
    active INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE guardians (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL DEFAULT '',
    phone TEXT NOT NULL DEFAULT ''
);

CREATE TABLE person_guardians (
    person_id TEXT NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    guardian_id TEXT NOT NULL REFERENCES guardians(id) ON DELETE CASCADE,
    PRIMARY KEY (person_id, guardian_id)
);

CREATE TABLE cards (
    card_key TEXT PRIMARY KEY,
    person_id TEXT REFERENCES people(id) ON DELETE CASCADE,
    visitor_id TEXT,
    valid_from TEXT,
    valid_until TEXT,
    active INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL
);
CREATE INDEX cards_person ON cards(person_id);

CREATE TABLE vehicles (
    plate TEXT PRIMARY KEY,
    owner_id TEXT,
    kind TEXT NOT NULL DEFAULT 'staff',
    valid_from TEXT,
    valid_until TEXT,
    note TEXT NOT NULL DEFAULT ''
);

CREATE TABLE face_encodings (
    id INTEGER PRIMARY KEY,
    person_id TEXT NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    source_sha256 TEXT NOT NULL,
    encoding BLOB NOT NULL,
    created_at TEXT NOT NULL,
    UNIQUE (person_id, source_sha256)
);

CREATE TABLE events (
    id TEXT PRIMARY KEY,
    ts TEXT NOT NULL,
    type TEXT NOT NULL,
    lane TEXT,
    direction TEXT,
    method TEXT,
    person_id TEXT,
    decision TEXT,
    reason TEXT,
    snapshot TEXT,
    details TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX events_ts ON events(ts);
CREATE INDEX events_person ON events(person_id, ts);

CREATE TABLE alerts (
    id TEXT PRIMARY KEY,
    ts TEXT NOT NULL,
    type TEXT NOT NULL,
    severity TEXT NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
    lane TEXT,
    person_id TEXT,
    snapshot TEXT,
    details TEXT NOT NULL DEFAULT '{}',
    acknowledged_at TEXT,
    acknowledged_by TEXT,
    ack_note TEXT
);
CREATE INDEX alerts_ts ON alerts(ts);

CREATE TABLE visitors (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    id_type TEXT NOT NULL,
    id_number TEXT NOT NULL,
    phone TEXT NOT NULL DEFAULT '',
    purpose TEXT NOT NULL DEFAULT '',
    host_id TEXT,
    plate TEXT,
    status TEXT NOT NULL DEFAULT 'registered',
    valid_from TEXT,
    valid_until TEXT,
    created_at TEXT NOT NULL,
    checked_out_at TEXT
);

CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ts TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT,
    details TEXT NOT NULL DEFAULT '{}'
);

CREATE TABLE outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    msg_id TEXT NOT NULL UNIQUE,
    topic TEXT NOT NULL,
    payload TEXT NOT NULL,
    qos INTEGER NOT NULL DEFAULT 1,
    retain INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    sent_at TEXT
);
CREATE INDEX outbox_pending ON outbox(sent_at, seq);
