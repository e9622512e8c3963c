alter table password
	add column name varchar(384) not null default '';

alter table password
	add column email_verified boolean;
