-- Indexes that let the snapshot statement read only what it needs. Each expression below is
-- written exactly as in sql/queries/snapshot_cycle.sql, or the planner will not use it.

-- Current state: counts by status (index-only scan), and open work by priority and assignee.
CREATE INDEX IF NOT EXISTS ix_tickets_org_status ON tickets (organization_id, status);
CREATE INDEX IF NOT EXISTS ix_tickets_open_org_priority ON tickets (organization_id, priority)
    WHERE status IN ('open', 'pending');
CREATE INDEX IF NOT EXISTS ix_tickets_open_assignee ON tickets (assignee_id)
    WHERE status IN ('open', 'pending');

-- Window metrics: first responses and resolutions in (T - W, T].
CREATE INDEX IF NOT EXISTS ix_tickets_first_response_at ON tickets (first_response_at)
    INCLUDE (organization_id, created_at) WHERE first_response_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS ix_tickets_resolution_time ON tickets ((coalesce(resolved_at, closed_at)))
    INCLUDE (organization_id, created_at) WHERE status IN ('resolved', 'closed');

-- SLA targets by the time they are decided: completion when on time, else the due time.
CREATE INDEX IF NOT EXISTS ix_tickets_first_response_decided
    ON tickets ((least(first_response_at, first_response_due_at)))
    WHERE first_response_due_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS ix_tickets_resolution_decided
    ON tickets ((least(CASE WHEN status IN ('resolved', 'closed')
                            THEN coalesce(resolved_at, closed_at) END, resolution_due_at)))
    WHERE resolution_due_at IS NOT NULL;

CREATE INDEX IF NOT EXISTS ix_agents_org ON agents (organization_id);
