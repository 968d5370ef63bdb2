-- One row per stored-procedure run: what ran, with which arguments, and how it ended.
CREATE TABLE IF NOT EXISTS <% database %>.<% audit_schema %>.PROCEDURE_RUNS (
    run_id VARCHAR NOT NULL,
    procedure_name VARCHAR NOT NULL,
    arguments VARCHAR,
    started_at TIMESTAMP_NTZ NOT NULL,
    finished_at TIMESTAMP_NTZ,
    status VARCHAR NOT NULL,
    rows_written NUMBER(38, 0),
    result VARCHAR,
    error VARCHAR
);

-- One row per table LOAD_VAULT touched in a run: what it inserted, and how it ended.
CREATE TABLE IF NOT EXISTS <% database %>.<% audit_schema %>.VAULT_LOAD_RUNS (
    run_id VARCHAR NOT NULL,
    batch_id VARCHAR NOT NULL,
    table_name VARCHAR NOT NULL,
    rows_inserted NUMBER(38, 0),
    rows_quarantined NUMBER(38, 0),
    rows_superseded NUMBER(38, 0),
    seconds FLOAT,
    status VARCHAR NOT NULL,
    error VARCHAR
);

-- One row per run of the task graph (written by its finalizer; locally by `lake run`).
CREATE TABLE IF NOT EXISTS <% database %>.<% audit_schema %>.PIPELINE_RUNS (
    graph_run_id VARCHAR NOT NULL,
    started_at TIMESTAMP_NTZ,
    finished_at TIMESTAMP_NTZ NOT NULL,
    status VARCHAR NOT NULL,
    failed_task VARCHAR,
    error VARCHAR,
    steps VARCHAR
);
