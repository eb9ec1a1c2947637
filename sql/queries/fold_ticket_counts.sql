-- Fold the committed deltas into ticket_status_counts (a compaction: counts + deltas is the
-- same before and after). Deltas committed meanwhile stay for the next fold.
WITH folded AS (
    DELETE FROM ticket_status_deltas
    RETURNING organization_id, status, delta
),
net AS (
    SELECT organization_id, status, sum(delta) AS delta
    FROM folded
    GROUP BY organization_id, status
)
INSERT INTO ticket_status_counts AS c (organization_id, status, n)
SELECT organization_id, status, delta FROM net
ON CONFLICT (organization_id, status) DO UPDATE SET n = c.n + excluded.n
