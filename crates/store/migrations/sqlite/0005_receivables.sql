-- Credit and receivables (SQLite flavour; ../postgres holds the same tables): invoices (per order
-- or standalone) with their paid amount kept up to date by the payments, instalment plans,
-- payments, and the queue of orders held for a manager's approval because they would take the
-- customer over its credit limit.

CREATE TABLE invoices (
    id           INTEGER PRIMARY KEY,
    customer_id  INTEGER NOT NULL REFERENCES customers (id),
    number       TEXT NOT NULL,
    order_ref    TEXT,
    issued_on    TEXT NOT NULL,
    due_on       TEXT NOT NULL,
    amount_cents INTEGER NOT NULL CHECK (amount_cents > 0),
    paid_cents   INTEGER NOT NULL DEFAULT 0 CHECK (paid_cents >= 0 AND paid_cents <= amount_cents),
    created_at   TEXT NOT NULL
);
CREATE UNIQUE INDEX invoices_number ON invoices (customer_id, number);
CREATE INDEX invoices_open ON invoices (customer_id, due_on) WHERE paid_cents < amount_cents;
CREATE INDEX invoices_by_issue ON invoices (issued_on);

CREATE TABLE instalments (
    customer_id  INTEGER NOT NULL,
    invoice_id   INTEGER NOT NULL REFERENCES invoices (id) ON DELETE CASCADE,
    seq          INTEGER NOT NULL,
    due_on       TEXT NOT NULL,
    amount_cents INTEGER NOT NULL CHECK (amount_cents > 0),
    PRIMARY KEY (customer_id, invoice_id, seq)
) WITHOUT ROWID;

CREATE TABLE payments (
    id           INTEGER PRIMARY KEY,
    customer_id  INTEGER NOT NULL REFERENCES customers (id),
    invoice_id   INTEGER NOT NULL REFERENCES invoices (id),
    paid_on      TEXT NOT NULL,
    amount_cents INTEGER NOT NULL CHECK (amount_cents > 0),
    reference    TEXT,
    created_at   TEXT NOT NULL
);
CREATE INDEX payments_by_invoice ON payments (customer_id, invoice_id);
CREATE INDEX payments_by_date ON payments (paid_on);

CREATE TABLE credit_holds (
    id              INTEGER PRIMARY KEY,
    customer_id     INTEGER NOT NULL REFERENCES customers (id),
    order_json      TEXT NOT NULL,
    amount_cents    INTEGER NOT NULL,
    open_cents      INTEGER NOT NULL,
    limit_cents     INTEGER NOT NULL,
    due_days        INTEGER NOT NULL,
    requested_at    TEXT NOT NULL,
    requested_by    TEXT NOT NULL,
    status          TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'rejected')),
    decided_at      TEXT,
    decided_by      TEXT,
    note            TEXT,
    order_ref       TEXT
);
CREATE INDEX credit_holds_pending ON credit_holds (status, id);
