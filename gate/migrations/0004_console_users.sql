-- depends: 0003_watchlists
-- Console users, server-side sessions and login attempts (OWASP ASVS 5.0, V6/V7).
CREATE TABLE users (
    username TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('guard', 'admin')),
    disabled INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL
);

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    username TEXT NOT NULL REFERENCES users(username) ON DELETE CASCADE,
    csrf_token TEXT NOT NULL,
    created_epoch REAL NOT NULL,
    last_seen_epoch REAL NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE login_attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    username TEXT NOT NULL,
    client TEXT NOT NULL,
    ts_epoch REAL NOT NULL,
    success INTEGER NOT NULL
);
CREATE INDEX login_attempts_user ON login_attempts(username, ts_epoch);

-- Unacknowledged critical alerts are escalated once.
ALTER TABLE alerts ADD COLUMN escalated_at TEXT;
