alter table password add column preferred_username text not null default '';

alter table password add column groups blob not null default '[]';
