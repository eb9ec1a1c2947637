-- Organizations for the dashboard's picker: all when $1 is null (an admin), else only $1.
SELECT o.id, o.name,
    (SELECT max(m.snapshot_ts) FROM metrics_snapshots m WHERE m.organization_id = o.id)
        AS latest_snapshot_ts
FROM organizations o
WHERE $1::uuid IS NULL OR o.id = $1
ORDER BY o.name, o.id;
