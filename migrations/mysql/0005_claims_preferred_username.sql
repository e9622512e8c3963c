alter table auth_code
	add column claims_preferred_username varchar(384) not null default '';

alter table auth_request
	add column claims_preferred_username varchar(384) not null default '';

alter table refresh_token
	add column claims_preferred_username varchar(384) not null default '';
