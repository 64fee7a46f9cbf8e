-- a second step, to check ordering; semicolons inside strings must survive
ALTER TABLE widgets ADD COLUMN size integer NOT NULL DEFAULT 1;
INSERT INTO widgets (name) VALUES ('semi;colon');
