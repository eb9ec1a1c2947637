-- The latest snapshot of each organization in $1 (all organizations when $1 is null).
-- One backward index probe per organization on ix_metrics_snapshots_org_ts, never a scan.
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
FROM organizations o
CROSS JOIN LATERAL (
    SELECT *
    FROM metrics_snapshots m
    WHERE m.organization_id = o.id
    ORDER BY m.snapshot_ts DESC
    LIMIT 1
) s
WHERE $1::uuid[] IS NULL OR o.id = ANY($1::uuid[]);
