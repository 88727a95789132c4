-- depends: 0005_visits
-- Enrolment quality: the verdict on each photo offered for a person's face template (ok, warn,
-- reject, with reasons), so the console can show why a child is not recognised and which photo
-- to replace. JSON object keyed by the photo's SHA-256: {"photo", "verdict", "reasons", "at"}.
-- Verdicts only: no image, no encoding.
ALTER TABLE people ADD COLUMN enrolment_quality TEXT NOT NULL DEFAULT '{}';
