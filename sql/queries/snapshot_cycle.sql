-- One worker cycle: every organization's snapshot at T = $1, window W = $2, in one statement.
-- Metric definitions: docs/contract.md section 4. The window is (T - W, T]; durations in minutes.
WITH
-- Counts by status come from the incrementally kept counts plus the deltas not folded yet
-- (sql/migrations/0004), not from a count of every ticket.
status_counts AS (
    SELECT organization_id, status, sum(n) AS n
    FROM (SELECT organization_id, status, n FROM ticket_status_counts
          UNION ALL
          SELECT organization_id, status, delta FROM ticket_status_deltas) AS kept
    GROUP BY organization_id, status
),
by_status AS (
    SELECT organization_id,
           sum(n) FILTER (WHERE status = 'open')     AS open,
           sum(n) FILTER (WHERE status = 'pending')  AS pending,
           sum(n) FILTER (WHERE status = 'resolved') AS resolved,
           sum(n) FILTER (WHERE status = 'closed')   AS closed
    FROM status_counts
    GROUP BY organization_id
),
by_priority AS (
    SELECT organization_id,
           count(*) FILTER (WHERE priority = 'low')    AS low,
           count(*) FILTER (WHERE priority = 'medium') AS medium,
           count(*) FILTER (WHERE priority = 'high')   AS high,
           count(*) FILTER (WHERE priority = 'urgent') AS urgent
    FROM tickets
    WHERE status IN ('open', 'pending')
    GROUP BY organization_id
),
frt AS (
    SELECT organization_id,
           percentile_cont(ARRAY[0.5, 0.95]::float8[]) WITHIN GROUP (
               ORDER BY extract(epoch FROM first_response_at - created_at)::float8 / 60
           ) AS p
    FROM tickets
    WHERE first_response_at IS NOT NULL
      AND first_response_at > ($1::timestamptz - $2::interval) AND first_response_at <= $1::timestamptz
    GROUP BY organization_id
),
mttr AS (
    SELECT organization_id,
           percentile_cont(ARRAY[0.5, 0.95]::float8[]) WITHIN GROUP (
               ORDER BY extract(epoch FROM coalesce(resolved_at, closed_at) - created_at)::float8 / 60
           ) AS p
    FROM tickets
    WHERE status IN ('resolved', 'closed')
      AND coalesce(resolved_at, closed_at) > ($1::timestamptz - $2::interval)
      AND coalesce(resolved_at, closed_at) <= $1::timestamptz
    GROUP BY organization_id
),
-- A target is decided at its completion when on time, else at its due time; so its decision
-- time is least(completion, due) (least() skips a null completion) and it was achieved exactly
-- when completion <= due.
sla_targets AS (
    SELECT organization_id,
           coalesce(first_response_at <= first_response_due_at, false) AS achieved
    FROM tickets
    WHERE first_response_due_at IS NOT NULL
      AND least(first_response_at, first_response_due_at) > ($1::timestamptz - $2::interval)
      AND least(first_response_at, first_response_due_at) <= $1::timestamptz
    UNION ALL
    SELECT organization_id,
           coalesce(CASE WHEN status IN ('resolved', 'closed')
                         THEN coalesce(resolved_at, closed_at) END <= resolution_due_at,
                    false) AS achieved
    FROM tickets
    WHERE resolution_due_at IS NOT NULL
      AND least(CASE WHEN status IN ('resolved', 'closed')
                     THEN coalesce(resolved_at, closed_at) END, resolution_due_at) > ($1::timestamptz - $2::interval)
      AND least(CASE WHEN status IN ('resolved', 'closed')
                     THEN coalesce(resolved_at, closed_at) END, resolution_due_at) <= $1::timestamptz
),
sla AS (
    SELECT organization_id,
           100.0::float8 * count(*) FILTER (WHERE achieved) / count(*) AS pct
    FROM sla_targets
    GROUP BY organization_id
),
open_by_assignee AS (
    SELECT assignee_id, count(*) AS n
    FROM tickets
    WHERE status IN ('open', 'pending') AND assignee_id IS NOT NULL
    GROUP BY assignee_id
),
load AS (
    SELECT a.organization_id,
           jsonb_object_agg(a.handle, coalesce(o.n, 0)) AS agent_load
    FROM agents a
    LEFT JOIN open_by_assignee o ON o.assignee_id = a.id
    WHERE a.active OR o.n > 0
    GROUP BY a.organization_id
)
INSERT INTO metrics_snapshots (
    organization_id, snapshot_ts, tickets_by_status, tickets_by_priority,
    frt_p50, frt_p95, mttr_p50, mttr_p95, sla_compliance_pct, agent_load
)
SELECT org.id,
       $1::timestamptz,
       jsonb_build_object('open', coalesce(s.open, 0), 'pending', coalesce(s.pending, 0),
                          'resolved', coalesce(s.resolved, 0), 'closed', coalesce(s.closed, 0)),
       jsonb_build_object('low', coalesce(p.low, 0), 'medium', coalesce(p.medium, 0),
                          'high', coalesce(p.high, 0), 'urgent', coalesce(p.urgent, 0)),
       frt.p[1], frt.p[2], mttr.p[1], mttr.p[2],
       sla.pct,
       coalesce(load.agent_load, '{}'::jsonb)
FROM organizations org
LEFT JOIN by_status s   ON s.organization_id = org.id
LEFT JOIN by_priority p ON p.organization_id = org.id
LEFT JOIN frt           ON frt.organization_id = org.id
LEFT JOIN mttr          ON mttr.organization_id = org.id
LEFT JOIN sla           ON sla.organization_id = org.id
LEFT JOIN load          ON load.organization_id = org.id
RETURNING id
