-- How many snapshots one UTC day [$1, $2) holds, in its partition and in the default one.
SELECT count(*) FROM metrics_snapshots WHERE snapshot_ts >= $1 AND snapshot_ts < $2
