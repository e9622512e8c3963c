alter table password
	add column preferred_username varchar(384) not null default '';

alter table password
	add column `groups` blob;

update password
	set `groups` = '[]'
	where `groups` is null;

alter table password
	modify column `groups` blob not null;
