-- depends: 0004_console_users
-- The visitor desk: screening, the guard's and the host's decisions, passes, route.
ALTER TABLE visitors ADD COLUMN screening TEXT;
ALTER TABLE visitors ADD COLUMN screening_detail TEXT NOT NULL DEFAULT '{}';
ALTER TABLE visitors ADD COLUMN guard_decision TEXT;
ALTER TABLE visitors ADD COLUMN guard_by TEXT;
ALTER TABLE visitors ADD COLUMN approval TEXT NOT NULL DEFAULT 'pending';
ALTER TABLE visitors ADD COLUMN approved_by TEXT;
ALTER TABLE visitors ADD COLUMN pass_code TEXT;
ALTER TABLE visitors ADD COLUMN overstay_alerted_at TEXT;
ALTER TABLE visitors ADD COLUMN registered_by TEXT NOT NULL DEFAULT '';
CREATE UNIQUE INDEX visitors_pass ON visitors(pass_code) WHERE pass_code IS NOT NULL;

-- Biometric: the visitor's face, to follow the visit; erased with the visit's retention.
CREATE TABLE visitor_faces (
    visitor_id TEXT PRIMARY KEY REFERENCES visitors(id) ON DELETE CASCADE,
    encoding BLOB NOT NULL
);

CREATE TABLE visitor_route (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    visitor_id TEXT NOT NULL REFERENCES visitors(id) ON DELETE CASCADE,
    ts TEXT NOT NULL,
    place TEXT NOT NULL,
    method TEXT NOT NULL,
    restricted INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX visitor_route_visitor ON visitor_route(visitor_id, ts);
