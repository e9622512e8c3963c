create table device_request (
    user_code text not null primary key,
    device_code text not null,
    client_id text not null,
    client_secret text,
    scopes blob not null,
    expiry timestamp not null
);

create table device_token (
    device_code text not null primary key,
    status text not null,
    token blob,
    expiry timestamp not null,
    last_request timestamp not null,
    poll_interval integer not null
);
