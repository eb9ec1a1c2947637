-- The announced snapshots ($1 ids, $2 their distinct timestamps), each as one line of JSON text
-- built here so that the server encodes a snapshot once, whatever the number of subscribers.
-- Filtering on snapshot_ts prunes partitions; the primary key (id, snapshot_ts) finds the rows.
SELECT s.organization_id, s.id, s.snapshot_ts,
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
FROM metrics_snapshots s
WHERE s.snapshot_ts = ANY($2::timestamptz[]) AND s.id = ANY($1::uuid[])
ORDER BY s.snapshot_ts, s.created_at;
