alter table auth_request add column webauthn_session_data blob;

alter table user_identity add column webauthn_credentials blob;
