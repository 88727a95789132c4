DROP TABLE purge_log;
DROP TABLE crypto_keys;
DROP TABLE visitor_photos;
DROP TABLE snapshots;
