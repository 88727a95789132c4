ALTER TABLE alerts DROP COLUMN police_ack_note;
ALTER TABLE alerts DROP COLUMN police_ack_by;
ALTER TABLE alerts DROP COLUMN police_ack_at;
