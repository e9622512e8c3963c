create table device_request (
	user_code varchar(384) not null primary key,
	device_code varchar(384) not null,
	client_id varchar(384) not null,
	client_secret varchar(384) ,
	scopes blob not null, -- JSON array of strings
	expiry datetime(3) not null
);

create table device_token (
				device_code varchar(384) not null primary key,
				status varchar(384) not null,
				token blob,
				expiry datetime(3) not null,
				last_request datetime(3) not null,
                poll_interval integer not null
			);
