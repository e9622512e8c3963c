alter table connector add column grant_types blob;
