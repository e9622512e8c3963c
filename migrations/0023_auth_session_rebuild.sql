drop table if exists auth_session;

create table auth_session (
    id text not null primary key,
    secret text not null default '',
    user_id text not null,
    connector_id text not null,
    client_states blob not null,
    created_at timestamp not null,
    last_activity timestamp not null,
    ip_address text not null default '',
    user_agent text not null default '',
    absolute_expiry timestamp not null default '1970-01-01 00:00:00',
    idle_expiry timestamp not null default '1970-01-01 00:00:00',
    logout_state blob
);

create index auth_session_user_idx on auth_session (user_id, connector_id);

alter table auth_code add column session_id text not null default '';
