-- 0009 the read-back service (HentKontaktJobOgUddOensker): the key that seals its paging
-- tokens (one row, made on first use, so every instance of a shared database accepts
-- every other's tokens), and the index its changes listing starts from.

CREATE TABLE readback_keys (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    hmac_key CHAR(64) NOT NULL,
    created_at {timestamp} NOT NULL
);

CREATE INDEX persons_municipality ON persons (municipality_code);
