-- 0003 WS-Security: the certificates pinned to client systems, and the replay
-- cache of signatures seen (shared by every server instance).

-- A certificate identifies exactly one system. A rotated-out certificate stays
-- valid until retires_at (the overlap period), then no longer identifies anyone.
CREATE TABLE client_certificates (
    fingerprint CHAR(64) PRIMARY KEY,
    system_id BIGINT NOT NULL REFERENCES client_systems (id) ON DELETE CASCADE,
    subject TEXT NOT NULL,
    not_before {timestamp} NOT NULL,
    not_after {timestamp} NOT NULL,
    added_at {timestamp} NOT NULL,
    retires_at {timestamp}
);

CREATE INDEX client_certificates_system ON client_certificates (system_id);

-- SHA-256 of each accepted signature value, kept until its Timestamp expires
-- plus the clock skew; a second message with the same signature is a replay.
CREATE TABLE replay_cache (
    signature_sha256 CHAR(64) PRIMARY KEY,
    keep_until {timestamp} NOT NULL
);

CREATE INDEX replay_cache_keep_until ON replay_cache (keep_until);
