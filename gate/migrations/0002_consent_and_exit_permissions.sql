-- depends: 0001_initial
-- Consent must be traceable (who recorded it, when), and staff grant students leave during lessons.
ALTER TABLE people ADD COLUMN consent_recorded_at TEXT;
UPDATE people SET consent_recorded_at = updated_at WHERE face_consent = 1;

CREATE TABLE exit_permissions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    person_id TEXT NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    valid_from TEXT NOT NULL,
    valid_until TEXT NOT NULL,
    granted_by TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL
);
CREATE INDEX exit_permissions_person ON exit_permissions(person_id, valid_until);
