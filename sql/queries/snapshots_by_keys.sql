-- The announced snapshots ($1 ids, $2 their distinct timestamps), each as one line of JSON text
-- built here so that the server encodes a snapshot once, whatever the number of subscribers.
-- Filtering on snapshot_ts prunes partitions; the primary key (id, snapshot_ts) finds the rows.
SELECT s.organization_id, s.id, s.snapshot_ts,
    atum_snapshot_json(s) AS body
FROM metrics_snapshots s
WHERE s.snapshot_ts = ANY($2::timestamptz[]) AND s.id = ANY($1::uuid[])
ORDER BY s.snapshot_ts, s.created_at;
