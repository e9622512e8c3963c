alter table auth_session add column absolute_expiry timestamp not null default '1970-01-01 00:00:00';

alter table auth_session add column idle_expiry timestamp not null default '1970-01-01 00:00:00';

alter table client add column post_logout_redirect_uris blob;

alter table auth_session add column logout_state blob;
