-- The UTC days before $1 that still hold snapshots in Postgres: each daily partition (named
-- metrics_snapshots_pYYYYMMDD by atum_ensure_partitions) and each day of rows in the default
-- partition. partition is null for a day that lives only in the default partition.
WITH parts AS (
    SELECT c.relname::text AS partition,
           to_date(substr(c.relname, length('metrics_snapshots_p') + 1), 'YYYYMMDD') AS day
    FROM pg_inherits i
    JOIN pg_class c ON c.oid = i.inhrelid
    WHERE i.inhparent = 'metrics_snapshots'::regclass
      AND c.relname ~ '^metrics_snapshots_p[0-9]{8}$'
),
stray AS (
    SELECT DISTINCT (snapshot_ts AT TIME ZONE 'UTC')::date AS day
    FROM metrics_snapshots_default
    WHERE snapshot_ts < ($1::date)::timestamp AT TIME ZONE 'UTC'
)
SELECT coalesce(p.day, s.day) AS day, p.partition
FROM parts p
FULL JOIN stray s ON s.day = p.day
WHERE coalesce(p.day, s.day) < $1::date
ORDER BY 1
