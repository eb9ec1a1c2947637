-- Organization $1's snapshots after time $2, oldest first, at most $3, with how many there are.
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
    )::text AS body,
    count(*) OVER () AS total
FROM metrics_snapshots s
WHERE s.organization_id = $1 AND s.snapshot_ts > $2
ORDER BY s.snapshot_ts
LIMIT $3;
