-- Organization $1's snapshots over ($2, $3], oldest first. When more than $4 fall in the span,
-- it is cut into $4 buckets of equal width from $2 (date_bin) and the last snapshot of each
-- non-empty bucket is kept; a snapshot at exactly $3 belongs to the last bucket.
WITH span AS (
    SELECT m.*, count(*) OVER () AS total
    FROM metrics_snapshots m
    WHERE m.organization_id = $1 AND m.snapshot_ts > $2 AND m.snapshot_ts <= $3
),
binned AS (
    SELECT span.*,
        CASE WHEN total > $4::int THEN least(
            date_bin(($3 - $2) / $4::int, snapshot_ts, $2),
            $2 + (($3 - $2) / $4::int) * ($4::int - 1)
        ) ELSE snapshot_ts END AS bucket
    FROM span
)
SELECT DISTINCT ON (s.bucket)
    json_build_object(
        'id', s.id,
        'organization_id', s.organization_id,
        'snapshot_ts', to_char(s.snapshot_ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
        'tickets_by_status', s.tickets_by_status,
        'tickets_by_priority', s.tickets_by_priority,
        'frt_p50', s.frt_p50,
        'frt_p95', s.frt_p95,
        'mttr_p50', s.mttr_p50,
        'mttr_p95', s.mttr_p95,
        'sla_compliance_pct', s.sla_compliance_pct,
        'agent_load', s.agent_load
    )::text AS body
FROM binned s
ORDER BY s.bucket, s.snapshot_ts DESC;
