-- $1 organization ids, $2 tickets per organization, $3 days of history, $4 now.
-- A realistic mix: tickets arrive evenly over the days; older ones are mostly resolved or
-- closed, recent ones open or pending; a few resolved tickets were reopened.
WITH org_agents AS (
    SELECT o.id AS organization_id,
           array_agg(a.id ORDER BY a.handle) FILTER (WHERE a.id IS NOT NULL) AS agent_ids
    FROM unnest($1::uuid[]) AS o(id)
    LEFT JOIN agents a ON a.organization_id = o.id
    GROUP BY o.id
),
draws AS (
    SELECT oa.organization_id, oa.agent_ids,
           $4::timestamptz - random() * ($3 * interval '1 day') AS created_at,
           random() AS r_priority, random() AS r_frt, random() AS r_res,
           random() AS r_state, random() AS r_assign
    FROM org_agents oa CROSS JOIN generate_series(1, $2)
),
shaped AS (
    SELECT d.*,
           CASE WHEN r_priority < 0.3 THEN 'low' WHEN r_priority < 0.7 THEN 'medium'
                WHEN r_priority < 0.9 THEN 'high' ELSE 'urgent' END AS priority,
           -- exponential draws: mean 45 minutes to first response, 20 hours to resolution
           created_at + (-ln(1 - r_frt) * 45) * interval '1 minute' AS frt_at,
           created_at + (-ln(1 - r_frt) * 45 - ln(1 - r_res) * 1200) * interval '1 minute'
               AS res_at
    FROM draws d
),
timed AS (
    SELECT s.*,
           s.created_at + CASE s.priority WHEN 'urgent' THEN interval '1 hour'
               WHEN 'high' THEN interval '4 hours' WHEN 'medium' THEN interval '8 hours'
               ELSE interval '24 hours' END AS fr_due,
           s.created_at + CASE s.priority WHEN 'urgent' THEN interval '8 hours'
               WHEN 'high' THEN interval '24 hours' WHEN 'medium' THEN interval '72 hours'
               ELSE interval '120 hours' END AS res_due,
           s.frt_at <= $4 AS responded,
           s.res_at <= $4 AS finished,
           s.res_at + interval '2 days' <= $4 AS closable
    FROM shaped s
)
INSERT INTO tickets (organization_id, status, priority, assignee_id, created_at,
                     first_response_at, resolved_at, closed_at,
                     first_response_due_at, resolution_due_at, updated_at)
SELECT organization_id,
       CASE WHEN finished AND r_state < 0.03 THEN 'open'          -- reopened
            WHEN finished AND closable AND r_state < 0.75 THEN 'closed'
            WHEN finished THEN 'resolved'
            WHEN responded AND r_state < 0.4 THEN 'pending'
            ELSE 'open' END,
       priority,
       CASE WHEN agent_ids IS NULL OR (NOT responded AND r_assign < 0.3) THEN NULL
            ELSE agent_ids[1 + floor(r_assign * cardinality(agent_ids))::int] END,
       created_at,
       CASE WHEN responded THEN frt_at END,
       CASE WHEN finished THEN res_at END,
       CASE WHEN finished AND closable AND r_state >= 0.03 AND r_state < 0.75
            THEN res_at + interval '2 days' END,
       fr_due,
       res_due,
       greatest(created_at, CASE WHEN finished THEN res_at WHEN responded THEN frt_at END)
FROM timed
