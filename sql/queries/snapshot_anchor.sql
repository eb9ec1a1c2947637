-- The time of snapshot $2 when it is one of organization $1's (a Last-Event-ID), else no row.
SELECT snapshot_ts FROM metrics_snapshots WHERE organization_id = $1 AND id = $2;
