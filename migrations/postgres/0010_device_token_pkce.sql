alter table device_token
	add column code_challenge text not null default '';

alter table device_token
	add column code_challenge_method text not null default '';
