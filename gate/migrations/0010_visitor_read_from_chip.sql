-- depends: 0009_console_ui
-- The desk's ID-card reader (issue 28): whether the visitor's name and number were read from
-- the card's chip (1) or typed by the guard (0), and until when the card read was valid.
-- Only these two facts are kept of the chip: the address, ethnicity and the chip's photo are
-- shown at the desk and not stored.
ALTER TABLE visitors ADD COLUMN read_from_chip INTEGER NOT NULL DEFAULT 0;
ALTER TABLE visitors ADD COLUMN document_valid_until TEXT;
