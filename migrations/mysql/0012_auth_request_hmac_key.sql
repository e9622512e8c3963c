alter table auth_request
	add column hmac_key blob;
