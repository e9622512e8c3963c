alter table password
	add column name text not null default '';

alter table password
	add column email_verified boolean;
