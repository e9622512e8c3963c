alter table refresh_token
	add column token varchar(384) not null default '';

alter table refresh_token
	add column created_at datetime(3) not null default '1000-01-01 00:00:00';

alter table refresh_token
	add column last_used datetime(3) not null default '1000-01-01 00:00:00';
