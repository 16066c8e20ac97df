-- 0006 the request log: one row per request (report, Ping, or refused with a fault),
-- for support ("why was my request refused?") and the operator's dashboard. No personal
-- data: the CPR number only masked, no name, e-mail, phone number or free text.

CREATE TABLE request_log (
    id {identity_pk},
    received_at {timestamp} NOT NULL,
    correlation_id TEXT NOT NULL UNIQUE,
    -- Indberetning, Ping, or - (refused before the operation was read)
    operation TEXT NOT NULL,
    -- accepted, rejected, fault, up, down
    outcome TEXT NOT NULL,
    -- FejlKode of a rejection (14 ...), ErrorCode of a fault (IPL000002 ...)
    code TEXT,
    details TEXT,
    http_status INTEGER NOT NULL,
    soap_version TEXT NOT NULL,
    duration_ms DOUBLE PRECISION NOT NULL,
    system_name TEXT,
    institution_number BIGINT,
    masked_cpr TEXT,
    repeated INTEGER NOT NULL DEFAULT 0
);

CREATE INDEX request_log_received_at ON request_log (received_at);

CREATE INDEX request_log_system ON request_log (system_name, received_at);
