-- Organization $1's snapshots after time $2, oldest first, at most $3, with how many there are.
SELECT s.organization_id, s.id, s.snapshot_ts,
    atum_snapshot_json(s) AS body,
    count(*) OVER () AS total
FROM metrics_snapshots s
WHERE s.organization_id = $1 AND s.snapshot_ts > $2
ORDER BY s.snapshot_ts
LIMIT $3;
