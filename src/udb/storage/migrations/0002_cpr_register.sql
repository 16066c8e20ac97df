-- 0002 the register fed by the CPR office's extracts: each person's CPR
-- status code and replacing number, and the extract files applied.

ALTER TABLE persons ADD COLUMN cpr_status CHAR(2);

ALTER TABLE persons ADD COLUMN replaced_by CHAR(10);

-- One row per applied extract file. file_sha256 makes a second import of the
-- same file a no-op; production_date orders the files.
CREATE TABLE cpr_imports (
    id {identity_pk},
    file_name TEXT NOT NULL,
    file_sha256 CHAR(64) NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('full', 'incremental')),
    task_number TEXT NOT NULL,
    production_date {date} NOT NULL,
    previous_production_date {date},
    persons INTEGER NOT NULL,
    added INTEGER NOT NULL,
    changed INTEGER NOT NULL,
    made_non_resident INTEGER NOT NULL,
    unchanged INTEGER NOT NULL,
    unregistered INTEGER NOT NULL,
    warnings INTEGER NOT NULL,
    forced INTEGER NOT NULL,
    applied_at {timestamp} NOT NULL
);

CREATE INDEX cpr_imports_sha ON cpr_imports (file_sha256);
