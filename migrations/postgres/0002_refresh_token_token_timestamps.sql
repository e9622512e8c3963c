alter table refresh_token
	add column token text not null default '';

alter table refresh_token
	add column created_at timestamptz not null default '0001-01-01 00:00:00 UTC';

alter table refresh_token
	add column last_used timestamptz not null default '0001-01-01 00:00:00 UTC';
