-- Counts of tickets by organization and status, kept up to date as tickets change, so that a
-- cycle reads a few rows per organization instead of counting every ticket ever filed (which
-- grows without bound: 1,000,000 tickets cost 160 ms a cycle, see docs/metrics.md).
--
-- Writers never touch a shared row: statement-level triggers only INSERT net changes into
-- ticket_status_deltas, so concurrent ticket updates never wait on each other. Each worker cycle
-- folds the deltas into ticket_status_counts; a count is always counts + unfolded deltas.

CREATE TABLE ticket_status_counts (
    organization_id  uuid NOT NULL,
    status           text NOT NULL,
    n                bigint NOT NULL,
    PRIMARY KEY (organization_id, status)
);

CREATE TABLE ticket_status_deltas (
    organization_id  uuid NOT NULL,
    status           text NOT NULL,
    delta            bigint NOT NULL
);

CREATE FUNCTION atum_count_ticket_changes() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO ticket_status_deltas (organization_id, status, delta)
        SELECT organization_id, status, count(*) FROM new_rows GROUP BY 1, 2;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO ticket_status_deltas (organization_id, status, delta)
        SELECT organization_id, status, -count(*) FROM old_rows GROUP BY 1, 2;
    ELSE
        INSERT INTO ticket_status_deltas (organization_id, status, delta)
        SELECT organization_id, status, sum(d) FROM (
            SELECT organization_id, status, 1 AS d FROM new_rows
            UNION ALL
            SELECT organization_id, status, -1 AS d FROM old_rows
        ) changes
        GROUP BY 1, 2
        HAVING sum(d) <> 0;
    END IF;
    RETURN NULL;
END
$$;

CREATE FUNCTION atum_reset_ticket_counts() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM ticket_status_deltas;
    DELETE FROM ticket_status_counts;
    RETURN NULL;
END
$$;

-- Writes to tickets wait while the triggers are created and the counts taken, so that no change
-- falls between the initial count and the first delta.
LOCK TABLE tickets IN SHARE ROW EXCLUSIVE MODE;

CREATE TRIGGER tickets_count_insert AFTER INSERT ON tickets
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION atum_count_ticket_changes();
CREATE TRIGGER tickets_count_update AFTER UPDATE ON tickets
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION atum_count_ticket_changes();
CREATE TRIGGER tickets_count_delete AFTER DELETE ON tickets
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION atum_count_ticket_changes();
CREATE TRIGGER tickets_count_truncate AFTER TRUNCATE ON tickets
    FOR EACH STATEMENT EXECUTE FUNCTION atum_reset_ticket_counts();

INSERT INTO ticket_status_counts (organization_id, status, n)
SELECT organization_id, status, count(*) FROM tickets GROUP BY 1, 2;
