-- Watch lists the district sends down, kept so a gate that comes online (or a new gate)
-- gets the latest one again: RabbitMQ keeps retained messages per node only, so the hub,
-- not the broker, is the memory of "the list in force". origin is '' for this district's own
-- lists and the neighbour's district id for lists shared with it.
CREATE TABLE watchlists (
    name text PRIMARY KEY,
    origin text NOT NULL DEFAULT '',
    sites text[],                     -- NULL: every school of the district
    version text NOT NULL DEFAULT '',
    payload jsonb NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
