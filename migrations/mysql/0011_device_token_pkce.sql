alter table device_token
	add column code_challenge varchar(384) not null default '';

alter table device_token
	add column code_challenge_method varchar(384) not null default '';
