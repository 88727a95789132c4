ALTER TABLE people DROP COLUMN enrolment_quality;
