-- A retired day's rows that sit in the default partition.
DELETE FROM metrics_snapshots_default WHERE snapshot_ts >= $1 AND snapshot_ts < $2
