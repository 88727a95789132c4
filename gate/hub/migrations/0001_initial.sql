-- District hub schema, version 1.
-- Events are partitioned by month on the gate's own timestamp; partitions are created on demand
-- by the consumer (gate/hub/schema.py, ensure_partitions). A partitioned table can only hold
-- unique keys that include the partition key, so the once-only key (site, gate, id) of an event
-- lives in event_ids, which the same transaction fills first (INSERT ... ON CONFLICT DO NOTHING).

CREATE TABLE event_ids (
    site text NOT NULL,
    gate text NOT NULL,
    id text NOT NULL,
    ts timestamptz NOT NULL,
    PRIMARY KEY (site, gate, id)
);

CREATE TABLE events (
    site text NOT NULL,
    gate text NOT NULL,
    id text NOT NULL,
    ts timestamptz NOT NULL,
    type text NOT NULL,
    lane text,
    direction text,
    method text,
    decision text,
    person_id text,
    person_role text,
    person_class text,
    payload jsonb NOT NULL,
    stored_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (site, gate, id, ts)
) PARTITION BY RANGE (ts);

CREATE INDEX events_site_ts ON events (site, ts);

CREATE TABLE alerts (
    site text NOT NULL,
    gate text NOT NULL,
    id text NOT NULL,
    ts timestamptz NOT NULL,
    type text NOT NULL,
    severity text NOT NULL,
    lane text,
    snapshot text,
    payload jsonb NOT NULL,
    stored_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (site, gate, id)
);

CREATE INDEX alerts_ts ON alerts (ts);

-- Police acknowledgements, whether given on the district page or coming up from a gate.
CREATE TABLE alert_acks (
    site text NOT NULL,
    gate text NOT NULL,
    alert_id text NOT NULL,
    by_user text NOT NULL,
    note text NOT NULL DEFAULT '',
    ts timestamptz NOT NULL,
    PRIMARY KEY (site, gate, alert_id)
);

CREATE TABLE gate_status (
    site text NOT NULL,
    gate text NOT NULL,
    state text,
    version text,
    status_ts timestamptz,
    last_seen timestamptz NOT NULL,
    PRIMARY KEY (site, gate)
);

-- Messages that could not be understood: kept (truncated) so nothing vanishes silently.
CREATE TABLE rejected (
    received_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    routing_key text NOT NULL,
    reason text NOT NULL,
    body text NOT NULL
);

-- District page users (roles police, bureau, admin); passwords are argon2id hashes.
CREATE TABLE hub_users (
    username text PRIMARY KEY,
    password_hash text NOT NULL,
    role text NOT NULL CHECK (role IN ('police', 'bureau', 'admin')),
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE hub_audit (
    ts timestamptz NOT NULL DEFAULT clock_timestamp(),
    username text,
    action text NOT NULL,
    detail text NOT NULL DEFAULT ''
);
