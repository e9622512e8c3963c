alter table client add column sso_shared_with blob;
