create table user_identity (
    user_id text not null,
    connector_id text not null,
    claims_user_id text not null,
    claims_username text not null,
    claims_preferred_username text not null default '',
    claims_email text not null,
    claims_email_verified integer not null,
    claims_groups blob not null,
    consents blob not null,
    created_at timestamp not null,
    last_login timestamp not null,
    blocked_until timestamp not null,
    PRIMARY KEY (user_id, connector_id)
);
