-- Generated from the rule files by `make ddl`; do not edit by hand
-- (tests/procedures/test_quality.py fails when this file and the module disagree).

-- One row per rule per VALIDATE_DATA run: the verdict and a sample of failing keys.
CREATE TABLE IF NOT EXISTS <% database %>.<% quality_schema %>.RULE_RESULTS (
    RUN_ID VARCHAR NOT NULL,
    RULE_NAME VARCHAR NOT NULL,
    LAYER VARCHAR NOT NULL,
    TABLE_NAME VARCHAR NOT NULL,
    COLUMN_NAME VARCHAR,
    RULE_TYPE VARCHAR NOT NULL,
    SEVERITY VARCHAR NOT NULL,
    OWNER VARCHAR NOT NULL,
    BATCH_ID VARCHAR,
    ROWS_CHECKED NUMBER(38, 0),
    ROWS_FAILED NUMBER(38, 0),
    VERDICT VARCHAR NOT NULL,
    SAMPLE_KEYS VARCHAR,
    DETAIL VARCHAR,
    CHECKED_AT TIMESTAMP_NTZ NOT NULL
)
    COMMENT = 'Data-quality results history: one row per rule per run';

-- The failing rows of each run (at most a cap per rule): key, file and row, value.
CREATE TABLE IF NOT EXISTS <% database %>.<% quality_schema %>.RULE_EXCEPTIONS (
    RUN_ID VARCHAR NOT NULL,
    RULE_NAME VARCHAR NOT NULL,
    FAILING_KEY VARCHAR,
    FILE_NAME VARCHAR,
    FILE_ROW_NUMBER NUMBER(38, 0),
    FAILING_VALUE VARCHAR,
    TABLE_NAME VARCHAR NOT NULL,
    LAYER VARCHAR NOT NULL,
    CHECKED_AT TIMESTAMP_NTZ NOT NULL
)
    COMMENT = 'Data-quality exceptions: the failing keys of each rule';
