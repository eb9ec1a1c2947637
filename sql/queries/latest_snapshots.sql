-- The latest snapshot of each organization in $1 (all organizations when $1 is null).
-- One backward index probe per organization on ix_metrics_snapshots_org_ts, never a scan.
SELECT (s.snap).organization_id, (s.snap).id, (s.snap).snapshot_ts,
    atum_snapshot_json(s.snap) AS body
FROM organizations o
CROSS JOIN LATERAL (
    SELECT m AS snap
    FROM metrics_snapshots m
    WHERE m.organization_id = o.id
    ORDER BY m.snapshot_ts DESC
    LIMIT 1
) s
WHERE $1::uuid[] IS NULL OR o.id = ANY($1::uuid[]);
