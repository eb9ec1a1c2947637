-- The snapshot table: one row per organization per worker cycle, one partition per UTC day.
CREATE TABLE metrics_snapshots (
    id                   uuid NOT NULL DEFAULT gen_random_uuid(),
    organization_id      uuid NOT NULL,
    snapshot_ts          timestamptz NOT NULL,
    tickets_by_status    jsonb NOT NULL,
    tickets_by_priority  jsonb NOT NULL,
    frt_p50              float8,
    frt_p95              float8,
    mttr_p50             float8,
    mttr_p95             float8,
    sla_compliance_pct   float8,
    agent_load           jsonb NOT NULL,
    created_at           timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id, snapshot_ts)
) PARTITION BY RANGE (snapshot_ts);

CREATE INDEX ix_metrics_snapshots_org_ts ON metrics_snapshots (organization_id, snapshot_ts);

-- Catches any timestamp no daily partition covers, so that no insert ever fails.
CREATE TABLE metrics_snapshots_default PARTITION OF metrics_snapshots DEFAULT;

-- Every committed insert announces itself. NOTIFY is delivered only at commit (never for a
-- rolled-back insert), and payloads are capped at 8000 bytes, so only the keys are sent.
-- A statement-level trigger: one call per INSERT, however many rows (a cycle inserts one per
-- organization), instead of one call per row.
CREATE FUNCTION atum_announce_snapshots() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('metrics_snapshots', json_build_object(
        'organization_id', organization_id,
        'id', id,
        'snapshot_ts', to_char(snapshot_ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
    )::text)
    FROM new_rows;
    RETURN NULL;
END
$$;

CREATE TRIGGER metrics_snapshots_announce
    AFTER INSERT ON metrics_snapshots
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION atum_announce_snapshots();

-- Creates the daily partitions [first_day, first_day + days) that do not exist yet. Rows of
-- those days already caught by the default partition move into the new partition.
CREATE FUNCTION atum_ensure_partitions(first_day date, days integer) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    day      date;
    part     text;
    lower_ts timestamptz;
    upper_ts timestamptz;
    created  integer := 0;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('atum_ensure_partitions'));
    FOR i IN 0 .. days - 1 LOOP
        day := first_day + i;
        part := 'metrics_snapshots_p' || to_char(day, 'YYYYMMDD');
        CONTINUE WHEN to_regclass(part) IS NOT NULL;
        lower_ts := day::timestamp AT TIME ZONE 'UTC';
        upper_ts := (day + 1)::timestamp AT TIME ZONE 'UTC';
        EXECUTE format('CREATE TABLE %I (LIKE metrics_snapshots INCLUDING DEFAULTS)', part);
        EXECUTE format(
            'WITH moved AS (DELETE FROM metrics_snapshots_default'
            ' WHERE snapshot_ts >= %L AND snapshot_ts < %L RETURNING *)'
            ' INSERT INTO %I SELECT * FROM moved', lower_ts, upper_ts, part);
        EXECUTE format(
            'ALTER TABLE metrics_snapshots ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
            part, lower_ts, upper_ts);
        created := created + 1;
    END LOOP;
    RETURN created;
END
$$;

SELECT atum_ensure_partitions((now() AT TIME ZONE 'UTC')::date - 1, 4);

-- One row per worker cycle: lets a worker that takes over the lead wait for the next due cycle
-- instead of doubling the one that just ran.
CREATE TABLE metrics_cycles (
    snapshot_ts    timestamptz PRIMARY KEY,
    organizations  integer NOT NULL,
    duration_ms    float8 NOT NULL
);
