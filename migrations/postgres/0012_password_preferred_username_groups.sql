alter table password
	add column preferred_username text not null default '';

alter table password
	add column groups bytea not null default convert_to('[]', 'UTF8');
