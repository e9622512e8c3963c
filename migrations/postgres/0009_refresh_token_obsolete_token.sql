alter table refresh_token
	add column obsolete_token text default '';
