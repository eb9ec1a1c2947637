-- Hold off writers to the day being retired (its partition, if any, and the default partition)
-- until the transaction ends, so the row count we compare cannot change under us.
SELECT format('LOCK TABLE %s IN SHARE MODE',
              concat_ws(', ', quote_ident($1::text), 'metrics_snapshots_default'))
