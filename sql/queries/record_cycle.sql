INSERT INTO metrics_cycles (snapshot_ts, organizations, duration_ms) VALUES ($1, $2, $3)
ON CONFLICT (snapshot_ts) DO NOTHING
