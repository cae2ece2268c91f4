-- Up Migration
CREATE TABLE items (
  id serial PRIMARY KEY,
  name text NOT NULL,
  created_at timestamptz DEFAULT now()
);

-- Down Migration
DROP TABLE items;
