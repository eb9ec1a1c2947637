-- One UTC day [$1, $2) of snapshots, streamed by COPY into the Parquet export. The order is total
-- (id breaks ties) so that exporting a day twice writes the same bytes. Time first: rows arrive
-- nearly in that order, so Postgres sorts them far faster than it walks the (organization_id,
-- snapshot_ts) index with one heap fetch per row, and the Parquet row groups get tight
-- snapshot_ts ranges for time-filtered queries.
SELECT id, organization_id, snapshot_ts, tickets_by_status, tickets_by_priority,
       frt_p50, frt_p95, mttr_p50, mttr_p95, sla_compliance_pct, agent_load, created_at
FROM metrics_snapshots
WHERE snapshot_ts >= $1 AND snapshot_ts < $2
ORDER BY snapshot_ts, organization_id, id
