create table offline_session (
	user_id varchar(384) not null,
	conn_id varchar(384) not null,
	refresh blob not null,
	PRIMARY KEY (user_id, conn_id)
);
