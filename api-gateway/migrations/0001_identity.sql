-- Identity: tenants (projects), users, per-tenant roles, tokens and API keys,
-- and sign-in attempt counters for rate limiting (kept here, not in a
-- gateway's memory, so several gateways enforce one limit).
CREATE SCHEMA IF NOT EXISTS iaas;

CREATE TABLE iaas.tenants (
    id          uuid PRIMARY KEY,
    name        text NOT NULL UNIQUE CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$'),
    description text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE iaas.users (
    id            uuid PRIMARY KEY,
    name          text NOT NULL UNIQUE CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._@-]{0,62}$'),
    password_hash text NOT NULL,
    cloud_admin   boolean NOT NULL DEFAULT false,
    disabled      boolean NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE iaas.memberships (
    tenant_id  uuid NOT NULL REFERENCES iaas.tenants(id) ON DELETE CASCADE,
    user_id    uuid NOT NULL REFERENCES iaas.users(id) ON DELETE CASCADE,
    role       text NOT NULL CHECK (role IN ('admin', 'member', 'reader')),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, user_id)
);
CREATE INDEX memberships_user ON iaas.memberships (user_id);

-- Bearer tokens: sessions from sign-in and long-lived API keys. Only the
-- SHA-256 of a token is stored; the token itself is shown once.
CREATE TABLE iaas.tokens (
    id           uuid PRIMARY KEY,
    token_sha256 text NOT NULL UNIQUE,
    kind         text NOT NULL CHECK (kind IN ('session', 'api_key')),
    name         text NOT NULL DEFAULT '',
    user_id      uuid NOT NULL REFERENCES iaas.users(id) ON DELETE CASCADE,
    tenant_id    uuid REFERENCES iaas.tenants(id) ON DELETE CASCADE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    revoked_at   timestamptz
);
CREATE INDEX tokens_user ON iaas.tokens (user_id, kind);

CREATE TABLE iaas.signin_attempts (
    key          text NOT NULL,
    window_start timestamptz NOT NULL,
    count        integer NOT NULL,
    PRIMARY KEY (key, window_start)
);
