-- Organization $1's snapshots over ($2, $3], oldest first. When more than $4 fall in the span,
-- it is cut into $4 buckets of equal width from $2 (date_bin) and the last snapshot of each
-- non-empty bucket is kept; a snapshot at exactly $3 belongs to the last bucket.
WITH span AS (
    SELECT m AS snapshot, m.snapshot_ts, count(*) OVER () AS total
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
SELECT DISTINCT ON (s.bucket) atum_snapshot_json(s.snapshot) AS body
FROM binned s
ORDER BY s.bucket, s.snapshot_ts DESC;
