-- depends: 0005_visits
-- Police acknowledgements of an alert come down from the district (campus/{site}/{gate}/acks)
-- and are shown on the guard's console beside the guard's own acknowledgement.
ALTER TABLE alerts ADD COLUMN police_ack_at TEXT;
ALTER TABLE alerts ADD COLUMN police_ack_by TEXT;
ALTER TABLE alerts ADD COLUMN police_ack_note TEXT;
