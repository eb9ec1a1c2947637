-- Indexes that let the snapshot statement read only what it needs. Each expression below is
-- written exactly as in sql/queries/snapshot_cycle.sql, or the planner will not use it.

-- Open work by priority and by assignee (counts by status are kept by 0004's triggers).
CREATE INDEX IF NOT EXISTS ix_tickets_open_org_priority ON tickets (organization_id, priority)
    WHERE status IN ('open', 'pending');
CREATE INDEX IF NOT EXISTS ix_tickets_open_assignee ON tickets (assignee_id)
    WHERE status IN ('open', 'pending');

-- Window metrics: first responses and resolutions in (T - W, T].
CREATE INDEX IF NOT EXISTS ix_tickets_first_response_at ON tickets (first_response_at)
    INCLUDE (organization_id, created_at) WHERE first_response_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS ix_tickets_resolution_time ON tickets ((coalesce(resolved_at, closed_at)))
    INCLUDE (organization_id, created_at, resolved_at, closed_at)
    WHERE status IN ('resolved', 'closed');

-- SLA targets by the time they are decided: completion when on time, else the due time.
-- INCLUDE lets the window's slice be read from the index alone (index-only scans).
CREATE INDEX IF NOT EXISTS ix_tickets_first_response_decided
    ON tickets ((least(first_response_at, first_response_due_at)))
    INCLUDE (organization_id, first_response_at, first_response_due_at)
    WHERE first_response_due_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS ix_tickets_resolution_decided
    ON tickets ((least(CASE WHEN status IN ('resolved', 'closed')
                            THEN coalesce(resolved_at, closed_at) END, resolution_due_at)))
    INCLUDE (organization_id, status, resolved_at, closed_at, resolution_due_at)
    WHERE resolution_due_at IS NOT NULL;

CREATE INDEX IF NOT EXISTS ix_agents_org ON agents (organization_id);
