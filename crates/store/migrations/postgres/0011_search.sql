-- Trigram indexes for the customer search (the list's search box): a substring of the name or
-- the company, any case (`lower(name) LIKE '%term%'`). Without them every search read the whole
-- customers table. pg_trgm's GIN operator class answers LIKE patterns with 3 or more
-- characters from the index (shorter ones are checked row by row, as before).
--
-- pg_trgm ships with PostgreSQL (the contrib package) and is a trusted extension since
-- PostgreSQL 13: the database's owner may create it without being a superuser. Where the
-- migration runs as a role that may not, an administrator runs
-- `CREATE EXTENSION pg_trgm;` in the database once beforehand (see README).
CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE INDEX customers_name_trgm ON customers USING gin (lower(name) gin_trgm_ops);
CREATE INDEX customers_company_trgm ON customers USING gin (lower(company) gin_trgm_ops);
