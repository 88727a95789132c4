ALTER TABLE visitors DROP COLUMN document_valid_until;
ALTER TABLE visitors DROP COLUMN read_from_chip;
