alter table auth_request
	modify column state varchar(4096);
