-- Text index of the customer search (the list's search box): a substring of the name or the
-- company. Without it every search read the whole customers table (1.4-1.8 s per request at
-- 1 million customers). FTS5's trigram tokenizer indexes every 3-character sequence, so a
-- phrase query finds any substring of 3 or more characters (Chinese names too), case-folded;
-- shorter terms fall back to scanning (see `Store::text_matches` in src/customers.rs).
--
-- External content: the index stores no copy of the text, only the trigrams, and reads name and
-- company from `customers` by rowid. The triggers keep it in step with every write to the two
-- columns (create, update, bulk import, merge, delete), whichever code path makes it.
CREATE VIRTUAL TABLE customers_search USING fts5 (
    name,
    company,
    content = 'customers',
    content_rowid = 'id',
    tokenize = 'trigram case_sensitive 0'
);

INSERT INTO customers_search (customers_search) VALUES ('rebuild');

CREATE TRIGGER customers_search_insert AFTER INSERT ON customers BEGIN
    INSERT INTO customers_search (rowid, name, company) VALUES (new.id, new.name, new.company);
END;

CREATE TRIGGER customers_search_delete AFTER DELETE ON customers BEGIN
    INSERT INTO customers_search (customers_search, rowid, name, company)
    VALUES ('delete', old.id, old.name, old.company);
END;

CREATE TRIGGER customers_search_update AFTER UPDATE OF name, company ON customers BEGIN
    INSERT INTO customers_search (customers_search, rowid, name, company)
    VALUES ('delete', old.id, old.name, old.company);
    INSERT INTO customers_search (rowid, name, company) VALUES (new.id, new.name, new.company);
END;
