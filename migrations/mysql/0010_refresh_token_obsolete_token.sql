alter table refresh_token
	add column obsolete_token varchar(384) default '';
