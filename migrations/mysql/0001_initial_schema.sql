create table client (
	id varchar(384) not null primary key,
	secret varchar(384) not null,
	redirect_uris blob not null, -- JSON array of strings
	trusted_peers blob not null, -- JSON array of strings
	public boolean not null,
	name varchar(384) not null,
	logo_url varchar(384) not null
);

create table auth_request (
	id varchar(384) not null primary key,
	client_id varchar(384) not null,
	response_types blob not null, -- JSON array of strings
	scopes blob not null,         -- JSON array of strings
	redirect_uri varchar(384) not null,
	nonce varchar(384) not null,
	state varchar(384) not null,
	force_approval_prompt boolean not null,

	logged_in boolean not null,

	claims_user_id varchar(384) not null,
	claims_username varchar(384) not null,
	claims_email varchar(384) not null,
	claims_email_verified boolean not null,
	claims_groups blob not null, -- JSON array of strings

	connector_id varchar(384) not null,
	connector_data blob,

	expiry datetime(3) not null
);

create table auth_code (
	id varchar(384) not null primary key,
	client_id varchar(384) not null,
	scopes blob not null, -- JSON array of strings
	nonce varchar(384) not null,
	redirect_uri varchar(384) not null,

	claims_user_id varchar(384) not null,
	claims_username varchar(384) not null,
	claims_email varchar(384) not null,
	claims_email_verified boolean not null,
	claims_groups blob not null, -- JSON array of strings

	connector_id varchar(384) not null,
	connector_data blob,

	expiry datetime(3) not null
);

create table refresh_token (
	id varchar(384) not null primary key,
	client_id varchar(384) not null,
	scopes blob not null, -- JSON array of strings
	nonce varchar(384) not null,

	claims_user_id varchar(384) not null,
	claims_username varchar(384) not null,
	claims_email varchar(384) not null,
	claims_email_verified boolean not null,
	claims_groups blob not null, -- JSON array of strings

	connector_id varchar(384) not null,
	connector_data blob
);

create table password (
	email varchar(384) not null primary key,
	hash blob not null,
	username varchar(384) not null,
	user_id varchar(384) not null
);

-- `keys` is a weird table because we only ever expect there to be a single row
create table `keys` (
	id varchar(384) not null primary key,
	verification_keys blob not null, -- JSON array
	signing_key blob not null,       -- JSON object
	signing_key_pub blob not null,   -- JSON object
	next_rotation datetime(3) not null
);
