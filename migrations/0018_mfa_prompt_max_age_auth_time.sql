alter table auth_request add column mfa_validated integer not null default 0;

alter table user_identity add column mfa_secrets blob;

alter table client add column mfa_chain blob;

alter table auth_request add column prompt text not null default '';

alter table auth_request add column max_age integer not null default -1;

alter table auth_request add column auth_time timestamp not null default '1970-01-01 00:00:00';

alter table auth_code add column auth_time timestamp not null default '1970-01-01 00:00:00';
