-- GA/T 1400 gateway (gate/hub/viid): what goes up to the police station's upper platform,
-- each object exactly once. A row is written from the gateway's own queue in the same
-- transaction that acknowledges nothing yet (the AMQP ack follows the commit), keyed by the
-- gate message it came from, so a redelivered message changes nothing. The sender moves a row
-- pending -> inflight (committed before the POST) -> sent; an inflight row found after a crash
-- or an unanswered POST is looked up on the upper platform by its object id before it is sent
-- again. The images (Base64 inside body) are dropped once the platform has the object.
CREATE SEQUENCE viid_seq;

CREATE TABLE viid_outbox (
    seq bigserial PRIMARY KEY,
    site text NOT NULL,
    gate text NOT NULL,
    source_id text NOT NULL,          -- the gate message's id
    kind text NOT NULL CHECK (kind IN ('face', 'vehicle', 'notification')),
    object_id text NOT NULL UNIQUE,   -- FaceID / MotorVehicleID (48) / NotificationID (33)
    body jsonb,                       -- the object; NULL once sent
    -- refused: the platform answered a non-zero StatusCode REFUSE_AFTER times; kept, with
    -- its body, for a person to look at (a viid_refused alert names it)
    state text NOT NULL DEFAULT 'pending'
        CHECK (state IN ('pending', 'inflight', 'sent', 'refused')),
    attempts integer NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    sent_at timestamptz,
    UNIQUE (site, gate, source_id, kind)
);
CREATE INDEX viid_outbox_unsent ON viid_outbox (kind, seq) WHERE state IN ('pending', 'inflight');

-- Controls (布控) received from the upper platform; the active ones make the watch list.
CREATE TABLE viid_dispositions (
    disposition_id text PRIMARY KEY,
    category text NOT NULL,
    title text NOT NULL,
    plate text,                       -- normalised plate of a vehicle control
    id_number text,                   -- of a person control
    active boolean NOT NULL,
    body jsonb NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE TABLE viid_subscribes (
    subscribe_id text PRIMARY KEY,
    active boolean NOT NULL,
    body jsonb NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
