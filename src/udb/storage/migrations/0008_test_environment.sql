-- 0008 the vendors' test environment (udb testenv): a database marked as one applies
-- the scenarios of its synthetic young people and keeps every request of each enrolled
-- system in full, for the verification report. On any other database these tables stay
-- empty and nothing here applies. All data in them is synthetic.

-- one row: this database is a test environment (udb testenv init)
CREATE TABLE test_environment (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    created_at {timestamp} NOT NULL
);

-- a slot: a test KUI of its own and its scenario persons, enrolled by at most one system
CREATE TABLE testenv_slots (
    slot INTEGER PRIMARY KEY,
    institution_number BIGINT NOT NULL UNIQUE REFERENCES institutions (number),
    system_id BIGINT UNIQUE REFERENCES client_systems (id) ON DELETE SET NULL,
    enrolled_at {timestamp}
);

-- each synthetic young person of a slot and the scenario it triggers
CREATE TABLE testenv_persons (
    cpr CHAR(10) PRIMARY KEY,
    slot INTEGER NOT NULL REFERENCES testenv_slots (slot),
    scenario TEXT NOT NULL
);

CREATE INDEX testenv_persons_slot ON testenv_persons (slot);

-- the first attempt of each transaction that a scenario answers differently (101, delayed)
CREATE TABLE testenv_attempts (
    system_name TEXT NOT NULL,
    system_transaction_id TEXT NOT NULL,
    first_at {timestamp} NOT NULL,
    PRIMARY KEY (system_name, system_transaction_id)
);

-- every request of an enrolled system, in full, with what the service found in it
CREATE TABLE testenv_requests (
    id {identity_pk},
    system_name TEXT NOT NULL,
    received_at {timestamp} NOT NULL,
    correlation_id TEXT NOT NULL UNIQUE,
    operation TEXT NOT NULL,
    outcome TEXT NOT NULL,
    code TEXT,
    details TEXT,
    soap_version TEXT NOT NULL,
    -- the signing certificate's SHA-256 fingerprint (NULL: not signed, or not verified)
    certificate_fingerprint TEXT,
    uses_sha1 INTEGER NOT NULL DEFAULT 0,
    timestamp_created {timestamp},
    system_transaction_id TEXT,
    cpr CHAR(10),
    content_sha256 TEXT,
    -- the blocks the report carried: contact, job, education, comma-separated
    blocks TEXT,
    repeated INTEGER NOT NULL DEFAULT 0,
    body TEXT NOT NULL
);

CREATE INDEX testenv_requests_system ON testenv_requests (system_name, received_at);
