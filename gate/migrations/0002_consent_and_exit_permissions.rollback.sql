DROP TABLE exit_permissions;
ALTER TABLE people DROP COLUMN consent_recorded_at;
