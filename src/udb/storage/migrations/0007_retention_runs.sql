-- 0007 retention (udb retention purge): one row per purge, dry run or not, with what
-- it deleted (or, in a dry run, would delete) per kind; and the indexes that let a
-- purge find old rows without reading whole tables.

CREATE TABLE retention_runs (
    id {identity_pk},
    started_at {timestamp} NOT NULL,
    -- NULL while the purge runs (or if it was interrupted)
    finished_at {timestamp},
    dry_run INTEGER NOT NULL,
    -- persons past 25 and persons gone from Denmark or the register whose contact
    -- person and wishes were deleted
    persons_over_25 INTEGER NOT NULL DEFAULT 0,
    persons_gone INTEGER NOT NULL DEFAULT 0,
    -- report_log rows and the no longer current block_history rows of those reports
    reports INTEGER NOT NULL DEFAULT 0,
    report_blocks INTEGER NOT NULL DEFAULT 0,
    requests INTEGER NOT NULL DEFAULT 0,
    replay_entries INTEGER NOT NULL DEFAULT 0,
    duration_ms DOUBLE PRECISION,
    -- why a purge stopped before it was done (the database failed ...); no personal data
    error TEXT
);

CREATE INDEX retention_runs_started_at ON retention_runs (started_at);

CREATE INDEX report_log_received_at ON report_log (received_at);

CREATE INDEX block_history_report ON block_history (report_id);

CREATE INDEX current_blocks_history ON current_blocks (history_id);
