ALTER TABLE alerts DROP COLUMN escalated_at;
DROP TABLE login_attempts;
DROP TABLE sessions;
DROP TABLE users;
