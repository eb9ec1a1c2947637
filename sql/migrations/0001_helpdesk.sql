-- Reference helpdesk tables (the helpdesk owns them; shipped for stand-alone use, demos, tests).
CREATE TABLE IF NOT EXISTS organizations (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name        text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS agents (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id  uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    handle           text NOT NULL,
    active           boolean NOT NULL DEFAULT true,
    UNIQUE (organization_id, handle)
);

CREATE TABLE IF NOT EXISTS tickets (
    id                     uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id        uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    status                 text NOT NULL CHECK (status IN ('open', 'pending', 'resolved', 'closed')),
    priority               text NOT NULL CHECK (priority IN ('low', 'medium', 'high', 'urgent')),
    assignee_id            uuid NULL REFERENCES agents (id) ON DELETE SET NULL,
    created_at             timestamptz NOT NULL DEFAULT now(),
    first_response_at      timestamptz,
    resolved_at            timestamptz,
    closed_at              timestamptz,
    first_response_due_at  timestamptz,
    resolution_due_at      timestamptz,
    updated_at             timestamptz DEFAULT now()
);
