alter table auth_request
	add column code_challenge varchar(384) not null default '';

alter table auth_request
	add column code_challenge_method varchar(384) not null default '';

alter table auth_code
	add column code_challenge varchar(384) not null default '';

alter table auth_code
	add column code_challenge_method varchar(384) not null default '';
