create table client (
	id text not null primary key,
	secret text not null,
	redirect_uris bytea not null, -- JSON array of strings
	trusted_peers bytea not null, -- JSON array of strings
	public boolean not null,
	name text not null,
	logo_url text not null
);

create table auth_request (
	id text not null primary key,
	client_id text not null,
	response_types bytea not null, -- JSON array of strings
	scopes bytea not null,         -- JSON array of strings
	redirect_uri text not null,
	nonce text not null,
	state text not null,
	force_approval_prompt boolean not null,

	logged_in boolean not null,

	claims_user_id text not null,
	claims_username text not null,
	claims_email text not null,
	claims_email_verified boolean not null,
	claims_groups bytea not null, -- JSON array of strings

	connector_id text not null,
	connector_data bytea,

	expiry timestamptz not null
);

create table auth_code (
	id text not null primary key,
	client_id text not null,
	scopes bytea not null, -- JSON array of strings
	nonce text not null,
	redirect_uri text not null,

	claims_user_id text not null,
	claims_username text not null,
	claims_email text not null,
	claims_email_verified boolean not null,
	claims_groups bytea not null, -- JSON array of strings

	connector_id text not null,
	connector_data bytea,

	expiry timestamptz not null
);

create table refresh_token (
	id text not null primary key,
	client_id text not null,
	scopes bytea not null, -- JSON array of strings
	nonce text not null,

	claims_user_id text not null,
	claims_username text not null,
	claims_email text not null,
	claims_email_verified boolean not null,
	claims_groups bytea not null, -- JSON array of strings

	connector_id text not null,
	connector_data bytea
);

create table password (
	email text not null primary key,
	hash bytea not null,
	username text not null,
	user_id text not null
);

-- keys is a weird table because we only ever expect there to be a single row
create table keys (
	id text not null primary key,
	verification_keys bytea not null, -- JSON array
	signing_key bytea not null,       -- JSON object
	signing_key_pub bytea not null,   -- JSON object
	next_rotation timestamptz not null
);
