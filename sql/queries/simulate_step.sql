-- One step of the demo simulator over the demo organizations (names starting 'Demo '):
-- new tickets arrive, agents answer, resolve and close them, and a few are reopened.
WITH demo AS (
    SELECT o.id, array_agg(a.id) FILTER (WHERE a.active) AS agent_ids
    FROM organizations o JOIN agents a ON a.organization_id = o.id
    WHERE o.name LIKE 'Demo %'
    GROUP BY o.id
)
INSERT INTO tickets (organization_id, status, priority, assignee_id, created_at,
                     first_response_due_at, resolution_due_at, updated_at)
SELECT demo.id, 'open', p.priority,
       demo.agent_ids[1 + floor(random() * cardinality(demo.agent_ids))::int],
       now(), now() + p.fr_due, now() + p.res_due, now()
FROM demo
CROSS JOIN LATERAL (
    SELECT * FROM (VALUES ('low', interval '24 hours', interval '120 hours'),
                          ('medium', interval '8 hours', interval '72 hours'),
                          ('high', interval '4 hours', interval '24 hours'),
                          ('urgent', interval '1 hour', interval '8 hours'))
                  AS v(priority, fr_due, res_due)
    ORDER BY random() LIMIT 1
) p
WHERE random() < 0.7;

UPDATE tickets SET first_response_at = now(), status = 'pending', updated_at = now()
WHERE organization_id IN (SELECT id FROM organizations WHERE name LIKE 'Demo %')
  AND first_response_at IS NULL AND status = 'open' AND random() < 0.25;

UPDATE tickets SET status = 'resolved', resolved_at = now(), updated_at = now()
WHERE organization_id IN (SELECT id FROM organizations WHERE name LIKE 'Demo %')
  AND status IN ('open', 'pending') AND first_response_at IS NOT NULL AND random() < 0.08;

UPDATE tickets SET status = 'closed', closed_at = now(), updated_at = now()
WHERE organization_id IN (SELECT id FROM organizations WHERE name LIKE 'Demo %')
  AND status = 'resolved' AND resolved_at < now() - interval '1 minute' AND random() < 0.05;

UPDATE tickets SET status = 'open', updated_at = now()
WHERE organization_id IN (SELECT id FROM organizations WHERE name LIKE 'Demo %')
  AND status = 'resolved' AND random() < 0.005;
