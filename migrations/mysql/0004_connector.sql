create table connector (
	id varchar(384) not null primary key,
	type varchar(384) not null,
	name varchar(384) not null,
	resource_version varchar(384) not null,
	config blob
);
