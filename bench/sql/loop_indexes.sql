-- Indexes for the baseline loop (bench/sql/snapshot_one_org.sql), created after the set-based
-- cycle has been timed: each leads with organization_id so that one organization's statement
-- reads only that organization's entries.
CREATE INDEX ON tickets (organization_id, status);
CREATE INDEX ON tickets (organization_id, first_response_at) INCLUDE (created_at);
CREATE INDEX ON tickets (organization_id, (coalesce(resolved_at, closed_at)))
    INCLUDE (created_at) WHERE status IN ('resolved', 'closed');
CREATE INDEX ON tickets (organization_id, (least(first_response_at, first_response_due_at)))
    INCLUDE (first_response_at, first_response_due_at)
    WHERE first_response_due_at IS NOT NULL;
CREATE INDEX ON tickets (organization_id,
                         (least(CASE WHEN status IN ('resolved', 'closed')
                                     THEN coalesce(resolved_at, closed_at) END, resolution_due_at)))
    INCLUDE (status, resolved_at, closed_at, resolution_due_at)
    WHERE resolution_due_at IS NOT NULL;
