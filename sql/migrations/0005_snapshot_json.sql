-- The snapshot object of the HTTP API (docs/contract.md section 5) as one line of JSON text, built
-- by Postgres so that the server encodes each snapshot once, whatever the number of
-- subscribers. Every query that hands snapshots to the server goes through this one definition.
CREATE FUNCTION atum_snapshot_json(s metrics_snapshots) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT json_build_object(
        'id', s.id,
        'organization_id', s.organization_id,
        'snapshot_ts', to_char(s.snapshot_ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
        'tickets_by_status', s.tickets_by_status,
        'tickets_by_priority', s.tickets_by_priority,
        'frt_p50', s.frt_p50,
        'frt_p95', s.frt_p95,
        'mttr_p50', s.mttr_p50,
        'mttr_p95', s.mttr_p95,
        'sla_compliance_pct', s.sla_compliance_pct,
        'agent_load', s.agent_load
    )::text
$$;
