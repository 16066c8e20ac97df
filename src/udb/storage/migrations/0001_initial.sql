-- 0001 initial schema: register reference data, client systems, persons,
-- the report log (also the idempotency keys), block history and current blocks.
-- Placeholders in braces are the dialect's type names (see __init__.py).

CREATE TABLE municipalities (
    code INTEGER PRIMARY KEY CHECK (code BETWEEN 1 AND 999),
    name TEXT NOT NULL
);

CREATE TABLE institutions (
    number BIGINT PRIMARY KEY CHECK (number > 0),
    municipality_code INTEGER NOT NULL REFERENCES municipalities (code),
    name TEXT NOT NULL
);

CREATE TABLE client_systems (
    id {identity_pk},
    name TEXT NOT NULL UNIQUE,
    created_at {timestamp} NOT NULL
);

CREATE TABLE system_institutions (
    system_id BIGINT NOT NULL REFERENCES client_systems (id) ON DELETE CASCADE,
    institution_number BIGINT NOT NULL REFERENCES institutions (number),
    PRIMARY KEY (system_id, institution_number)
);

CREATE TABLE persons (
    cpr CHAR(10) PRIMARY KEY,
    birth_date {date} NOT NULL,
    status TEXT NOT NULL,
    municipality_code INTEGER CHECK (municipality_code BETWEEN 1 AND 9999),
    updated_at {timestamp} NOT NULL
);

-- Every received report with its outcome (NULL = accepted). The unique key
-- (system_id, system_transaction_id) is the idempotency key; content_sha256
-- tells a retry of the same report from a reuse of the key for another one.
CREATE TABLE report_log (
    id {identity_pk},
    correlation_id CHAR(36) NOT NULL UNIQUE,
    system_id BIGINT NOT NULL REFERENCES client_systems (id),
    system_transaction_id TEXT NOT NULL,
    content_sha256 CHAR(64) NOT NULL,
    cpr CHAR(10) NOT NULL,
    institution_number BIGINT NOT NULL,
    received_at {timestamp} NOT NULL,
    outcome_code INTEGER,
    UNIQUE (system_id, system_transaction_id)
);

CREATE INDEX report_log_cpr ON report_log (cpr);

-- Every accepted block; its source (system, transaction, correlation id,
-- time of receipt) is the report it came with.
CREATE TABLE block_history (
    id {identity_pk},
    report_id BIGINT NOT NULL REFERENCES report_log (id),
    cpr CHAR(10) NOT NULL REFERENCES persons (cpr),
    kind TEXT NOT NULL CHECK (kind IN ('kontakt', 'job', 'uddannelse')),
    navn TEXT,
    mail TEXT,
    telefon BIGINT,
    tekst TEXT,
    registered_at {timestamp} NOT NULL,
    CHECK (
        (kind = 'kontakt' AND navn IS NOT NULL AND mail IS NOT NULL AND tekst IS NULL)
        OR (kind <> 'kontakt' AND tekst IS NOT NULL AND navn IS NULL AND mail IS NULL
            AND telefon IS NULL)
    )
);

CREATE INDEX block_history_cpr ON block_history (cpr, kind);

-- The current block of each kind per person: the history row with the newest
-- registration time (for equal times, the later arrival).
CREATE TABLE current_blocks (
    cpr CHAR(10) NOT NULL REFERENCES persons (cpr),
    kind TEXT NOT NULL CHECK (kind IN ('kontakt', 'job', 'uddannelse')),
    history_id BIGINT NOT NULL REFERENCES block_history (id),
    registered_at {timestamp} NOT NULL,
    PRIMARY KEY (cpr, kind)
);
