alter table client add column allowed_connectors blob;
