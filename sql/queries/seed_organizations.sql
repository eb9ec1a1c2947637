-- $1 organization names, $2 agents per organization. Returns the new organizations.
WITH orgs AS (
    INSERT INTO organizations (name)
    SELECT unnest($1::text[])
    RETURNING id, name
),
new_agents AS (
    INSERT INTO agents (organization_id, handle, active)
    SELECT orgs.id, 'agent' || n, n <> $2  -- the last agent of each organization is inactive
    FROM orgs CROSS JOIN generate_series(1, $2) AS n
)
SELECT id, name FROM orgs ORDER BY name
