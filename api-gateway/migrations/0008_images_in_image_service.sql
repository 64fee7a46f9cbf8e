-- Images now live in the image service (schema "images", stratus-images);
-- the gateway forwards image calls there and checks an instance's image
-- through it. The gateway's own metadata table, which only ever held
-- 'queued' rows without bytes, goes; instances keep the image id.
ALTER TABLE iaas.instances DROP CONSTRAINT instances_image_id_fkey;
DROP FUNCTION iaas.image_json(iaas.images);
DROP TABLE iaas.images;
