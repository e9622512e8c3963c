alter table offline_session
	add column connector_data bytea;
