create table client (
    id text not null primary key,
    secret text not null,
    redirect_uris blob not null,
    trusted_peers blob not null,
    public integer not null,
    name text not null,
    logo_url text not null
);

create table auth_request (
    id text not null primary key,
    client_id text not null,
    response_types blob not null,
    scopes blob not null,
    redirect_uri text not null,
    nonce text not null,
    state text not null,
    force_approval_prompt integer not null,
    logged_in integer not null,
    claims_user_id text not null,
    claims_username text not null,
    claims_email text not null,
    claims_email_verified integer not null,
    claims_groups blob not null,
    connector_id text not null,
    connector_data blob,
    expiry timestamp not null
);

create table auth_code (
    id text not null primary key,
    client_id text not null,
    scopes blob not null,
    nonce text not null,
    redirect_uri text not null,
    claims_user_id text not null,
    claims_username text not null,
    claims_email text not null,
    claims_email_verified integer not null,
    claims_groups blob not null,
    connector_id text not null,
    connector_data blob,
    expiry timestamp not null
);

create table refresh_token (
    id text not null primary key,
    client_id text not null,
    scopes blob not null,
    nonce text not null,
    claims_user_id text not null,
    claims_username text not null,
    claims_email text not null,
    claims_email_verified integer not null,
    claims_groups blob not null,
    connector_id text not null,
    connector_data blob
);

create table password (
    email text not null primary key,
    hash blob not null,
    username text not null,
    user_id text not null
);

create table keys (
    id text not null primary key,
    verification_keys blob not null,
    signing_key blob not null,
    signing_key_pub blob not null,
    next_rotation timestamp not null
);
