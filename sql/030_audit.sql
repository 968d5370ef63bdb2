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
    steps VARCHAR,
    -- the batches the run ingested or loaded (JSON list)
    batches VARCHAR,
    -- whether the run published gold (NULL: a graph that builds none, the app's)
    published BOOLEAN,
    -- the integration a failed run was told through, or why it was not told
    notified VARCHAR
);

-- One row per correction of what landed or was recorded, never a silent delete: a landing
-- file withdrawn or superseded (`lake landing withdraw|supersede`: the object is moved
-- under _withdrawn/ and kept), a batch recorded by mistake removed (`lake repair --batch`).
CREATE TABLE IF NOT EXISTS <% database %>.<% audit_schema %>.CORRECTIONS (
    corrected_at TIMESTAMP_NTZ NOT NULL,
    -- withdraw | supersede | remove_batch
    action VARCHAR NOT NULL,
    -- the landing path, or the batch id
    target VARCHAR NOT NULL,
    reason VARCHAR NOT NULL,
    corrected_by VARCHAR,
    -- what the correction changed (JSON): where the file went, rows removed, ...
    detail VARCHAR
);

-- One row per `lake setup` / `lake deploy` that changed the schema objects: the version of
-- the lake and a digest of the sql/ it applied, and the columns it added to existing tables.
CREATE TABLE IF NOT EXISTS <% database %>.<% audit_schema %>.SCHEMA_VERSIONS (
    version VARCHAR NOT NULL,
    sql_digest VARCHAR NOT NULL,
    applied_at TIMESTAMP_NTZ NOT NULL,
    columns_added VARCHAR
);

-- The erasure register: one row per subject (a client's contact people) erased by
-- ERASE_SUBJECT. Staging reads it, so a re-delivered file or a late row never brings an
-- erased person's values back into the vault (procedures/erasure.py). Keys only.
CREATE TABLE IF NOT EXISTS <% database %>.<% audit_schema %>.ERASURE_REGISTER (
    customer_hk VARCHAR(32) NOT NULL,
    customer_id VARCHAR NOT NULL,
    request_id VARCHAR NOT NULL,
    erased_at TIMESTAMP_NTZ NOT NULL
);

-- One row per ERASE_SUBJECT request: who asked, when, what was overwritten where
-- (table -> rows, JSON), the verification's result (matches left, JSON) and the landing
-- files rewritten. Keys only.
CREATE TABLE IF NOT EXISTS <% database %>.<% audit_schema %>.ERASURE_LOG (
    request_id VARCHAR NOT NULL,
    customer_id VARCHAR NOT NULL,
    customer_hk VARCHAR(32) NOT NULL,
    requested_by VARCHAR,
    erased_at TIMESTAMP_NTZ NOT NULL,
    erased VARCHAR,
    rows_erased NUMBER(38, 0),
    verification VARCHAR,
    status VARCHAR NOT NULL,
    -- the landing files `lake erase` rewrote, and their scan before and after (JSON)
    files VARCHAR,
    -- the ERASE_SUBJECT run this row proves: one row per run, so a repeated request id
    -- (the same request run again) adds its own proof and never changes an earlier one
    run_id VARCHAR,
    -- how many runs of the same request id came before this one (0: the first)
    repeat_of NUMBER(38, 0)
);

-- Landing files the lake itself rewrote (an erasure: the subject's values removed), with the
-- new MD5: ingestion does not report them as changed after load, and never loads them
-- again (their control file was ingested already). Keys and file names only.
CREATE TABLE IF NOT EXISTS <% database %>.<% audit_schema %>.REWRITTEN_FILES (
    file_name VARCHAR NOT NULL,
    md5 VARCHAR NOT NULL,
    request_id VARCHAR NOT NULL,
    rewritten_at TIMESTAMP_NTZ NOT NULL
);
