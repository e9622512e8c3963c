create table auth_session (
    user_id text not null,
    connector_id text not null,
    nonce text not null default '',
    client_states blob not null,
    created_at timestamp not null,
    last_activity timestamp not null,
    ip_address text not null default '',
    user_agent text not null default '',
    PRIMARY KEY (user_id, connector_id)
);
