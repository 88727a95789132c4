-- District page sessions and login throttling (the same rules as the gate console).
CREATE TABLE hub_sessions (
    token_hash text PRIMARY KEY,
    username text NOT NULL REFERENCES hub_users (username) ON DELETE CASCADE,
    csrf_token text NOT NULL,
    created_epoch double precision NOT NULL,
    last_seen_epoch double precision NOT NULL
);

CREATE TABLE hub_login_attempts (
    username text NOT NULL,
    client text NOT NULL,
    ts_epoch double precision NOT NULL,
    success boolean NOT NULL
);
CREATE INDEX hub_login_attempts_ts ON hub_login_attempts (ts_epoch);

-- A gate may report its unsent outbox in its status ("backlog"); shown on the district page.
ALTER TABLE gate_status ADD COLUMN backlog integer;
