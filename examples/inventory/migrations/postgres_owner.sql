-- Items get the user who created them (nobody for items created before).
ALTER TABLE inventory_items ADD COLUMN owner_id BIGINT REFERENCES permit_users (id) ON DELETE SET NULL;
