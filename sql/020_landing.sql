-- The S3 landing zone as an external stage, and the file formats producers use.
-- Landing files carry every field as text; staging casts with TRY_ functions, so a bad
-- value is quarantined rather than failing a COPY.

-- Snowflake reaches the bucket through an IAM role that trusts this integration
-- (cdktf/ creates the role). Locally this is skipped: DuckDB reads the moto bucket
-- with a secret the local server creates (lake/local/unsupported.py lists why).
-- https://docs.snowflake.com/en/user-guide/data-load-s3-config-storage-integration
CREATE STORAGE INTEGRATION IF NOT EXISTS <% storage_integration %>
    TYPE = EXTERNAL_STAGE
    STORAGE_PROVIDER = 'S3'
    ENABLED = TRUE
    STORAGE_AWS_ROLE_ARN = '<% aws_role_arn %>'
    STORAGE_ALLOWED_LOCATIONS = ('<% landing_url %>');

CREATE FILE FORMAT IF NOT EXISTS <% database %>.<% landing_schema %>.PARQUET_TEXT
    TYPE = PARQUET
    COMMENT = 'Producer Parquet files; every column a string';
CREATE FILE FORMAT IF NOT EXISTS <% database %>.<% landing_schema %>.CSV_TEXT
    TYPE = CSV
    SKIP_HEADER = 1
    FIELD_OPTIONALLY_ENCLOSED_BY = '"'
    COMMENT = 'Producer CSV files with a header line';
-- INFER_SCHEMA reads a CSV file's column names from its header line with this one
-- (PARSE_HEADER and SKIP_HEADER exclude each other), so ingestion maps CSV columns by
-- name, not by position, and records a column a producer added or dropped.
CREATE FILE FORMAT IF NOT EXISTS <% database %>.<% landing_schema %>.CSV_HEADER
    TYPE = CSV
    PARSE_HEADER = TRUE
    FIELD_OPTIONALLY_ENCLOSED_BY = '"'
    COMMENT = 'Producer CSV files, header parsed for schema inference';
CREATE FILE FORMAT IF NOT EXISTS <% database %>.<% landing_schema %>.JSON_TEXT
    TYPE = JSON
    COMMENT = 'Producer newline-delimited JSON files';

-- One stage over the whole landing prefix; ingestion names its files from the
-- producers' control files (s3://<bucket>/landing/<producer>/<entity>/load_date=.../),
-- which it finds in the stage's directory table: a SELECT, which an owner's-rights
-- procedure may run where it may not run LIST
-- (https://docs.snowflake.com/en/user-guide/data-load-dirtables-manage). IF NOT EXISTS,
-- never OR REPLACE: replacing the stage would drop its grants, and cdktf/ may own it.
CREATE STAGE IF NOT EXISTS <% database %>.<% landing_schema %>.<% landing_stage %>
    URL = '<% landing_url %>'
    STORAGE_INTEGRATION = <% storage_integration %>
    DIRECTORY = (ENABLE = TRUE)
    COMMENT = 'S3 landing zone';
-- a stage created before the directory table was used (or by another tool) gets one
ALTER STAGE <% database %>.<% landing_schema %>.<% landing_stage %> SET DIRECTORY = (ENABLE = TRUE);

-- The stored procedures' code (build/deploy/procedures.zip) and the dbt project's files,
-- uploaded by `lake deploy` (lake/deploy.py).
CREATE STAGE IF NOT EXISTS <% database %>.<% landing_schema %>.LAKE_CODE
    COMMENT = 'Procedure artifacts and the dbt project (lake deploy)';

-- Settings of the landing layer: LANDING_STAGE names the stage INGEST_LANDING reads when
-- called without one (CALL BIND_LANDING_STAGE sets it; a Native App has no stage of its
-- own, so its consumer binds theirs). No row: <landing schema>.LANDING_STAGE.
CREATE TABLE IF NOT EXISTS <% database %>.<% landing_schema %>.SETTINGS (
    NAME VARCHAR NOT NULL,
    VALUE VARCHAR,
    UPDATED_AT TIMESTAMP_NTZ
)
    COMMENT = 'Landing settings: LANDING_STAGE, the stage INGEST_LANDING reads by default';
