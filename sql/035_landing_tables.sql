-- Generated from procedures/spec.py by `python -m procedures.ingest`; do not edit by hand
-- (tests/procedures/test_ingest.py fails when this file and the spec disagree).

CREATE TABLE IF NOT EXISTS <% database %>.<% landing_schema %>.CUSTOMERS (
    CUSTOMER_ID VARCHAR,
    LEGAL_NAME VARCHAR,
    FIRST_NAME VARCHAR,
    LAST_NAME VARCHAR,
    EMAIL VARCHAR,
    PHONE VARCHAR,
    DATE_OF_BIRTH VARCHAR,
    TAX_ID VARCHAR,
    ADDRESS_LINE VARCHAR,
    CITY VARCHAR,
    POSTAL_CODE VARCHAR,
    DOMICILE_COUNTRY VARCHAR,
    CLIENT_SEGMENT VARCHAR,
    LIFECYCLE_STAGE VARCHAR,
    RISK_RATING VARCHAR,
    KYC_STATUS VARCHAR,
    ONBOARDED_AT VARCHAR,
    UPDATED_AT VARCHAR,
    FILE_NAME VARCHAR,
    FILE_ROW_NUMBER NUMBER(38,0),
    BATCH_ID VARCHAR,
    INGESTED_AT TIMESTAMP_NTZ,
    MISSING_COLUMNS VARCHAR
)
    COMMENT = 'crm customers as landed, every field as text';

CREATE TABLE IF NOT EXISTS <% database %>.<% landing_schema %>.ACCOUNTS (
    ACCOUNT_ID VARCHAR,
    CUSTOMER_ID VARCHAR,
    ACCOUNT_NUMBER VARCHAR,
    ACCOUNT_TYPE VARCHAR,
    CURRENCY VARCHAR,
    BALANCE VARCHAR,
    STATUS VARCHAR,
    OPENED_AT VARCHAR,
    UPDATED_AT VARCHAR,
    FILE_NAME VARCHAR,
    FILE_ROW_NUMBER NUMBER(38,0),
    BATCH_ID VARCHAR,
    INGESTED_AT TIMESTAMP_NTZ,
    MISSING_COLUMNS VARCHAR
)
    COMMENT = 'finance accounts as landed, every field as text';

CREATE TABLE IF NOT EXISTS <% database %>.<% landing_schema %>.TRANSACTIONS (
    TRANSACTION_ID VARCHAR,
    ACCOUNT_ID VARCHAR,
    TRANSACTION_TYPE VARCHAR,
    DIRECTION VARCHAR,
    AMOUNT VARCHAR,
    CURRENCY VARCHAR,
    STATUS VARCHAR,
    TRANSACTION_AT VARCHAR,
    FILE_NAME VARCHAR,
    FILE_ROW_NUMBER NUMBER(38,0),
    BATCH_ID VARCHAR,
    INGESTED_AT TIMESTAMP_NTZ,
    MISSING_COLUMNS VARCHAR
)
    COMMENT = 'finance transactions as landed, every field as text';

CREATE TABLE IF NOT EXISTS <% database %>.<% landing_schema %>.ORDERS (
    ORDER_ID VARCHAR,
    CUSTOMER_ID VARCHAR,
    PRODUCT_ID VARCHAR,
    QUANTITY VARCHAR,
    UNIT_PRICE VARCHAR,
    CURRENCY VARCHAR,
    ORDER_STATUS VARCHAR,
    CHANNEL VARCHAR,
    ORDERED_AT VARCHAR,
    UPDATED_AT VARCHAR,
    FILE_NAME VARCHAR,
    FILE_ROW_NUMBER NUMBER(38,0),
    BATCH_ID VARCHAR,
    INGESTED_AT TIMESTAMP_NTZ,
    MISSING_COLUMNS VARCHAR
)
    COMMENT = 'operations orders as landed, every field as text';

CREATE TABLE IF NOT EXISTS <% database %>.<% landing_schema %>.PRODUCTS (
    PRODUCT_ID VARCHAR,
    PRODUCT_NAME VARCHAR,
    ASSET_CLASS VARCHAR,
    CURRENCY VARCHAR,
    LIST_PRICE VARCHAR,
    IS_ACTIVE VARCHAR,
    LAUNCHED_AT VARCHAR,
    UPDATED_AT VARCHAR,
    FILE_NAME VARCHAR,
    FILE_ROW_NUMBER NUMBER(38,0),
    BATCH_ID VARCHAR,
    INGESTED_AT TIMESTAMP_NTZ,
    MISSING_COLUMNS VARCHAR
)
    COMMENT = 'operations products as landed, every field as text';

CREATE TABLE IF NOT EXISTS <% database %>.<% landing_schema %>.INTERACTIONS (
    INTERACTION_ID VARCHAR,
    CUSTOMER_ID VARCHAR,
    CHANNEL VARCHAR,
    INTERACTION_TYPE VARCHAR,
    SENTIMENT VARCHAR,
    DURATION_MINUTES VARCHAR,
    RELATIONSHIP_MANAGER VARCHAR,
    INTERACTION_AT VARCHAR,
    FILE_NAME VARCHAR,
    FILE_ROW_NUMBER NUMBER(38,0),
    BATCH_ID VARCHAR,
    INGESTED_AT TIMESTAMP_NTZ,
    MISSING_COLUMNS VARCHAR
)
    COMMENT = 'crm interactions as landed, every field as text';

CREATE TABLE IF NOT EXISTS <% database %>.<% landing_schema %>.OPPORTUNITIES (
    OPPORTUNITY_ID VARCHAR,
    CUSTOMER_ID VARCHAR,
    OPPORTUNITY_NAME VARCHAR,
    STAGE VARCHAR,
    AMOUNT VARCHAR,
    CURRENCY VARCHAR,
    PROBABILITY_PCT VARCHAR,
    EXPECTED_CLOSE_DATE VARCHAR,
    UPDATED_AT VARCHAR,
    FILE_NAME VARCHAR,
    FILE_ROW_NUMBER NUMBER(38,0),
    BATCH_ID VARCHAR,
    INGESTED_AT TIMESTAMP_NTZ,
    MISSING_COLUMNS VARCHAR
)
    COMMENT = 'crm opportunities as landed, every field as text';

CREATE TABLE IF NOT EXISTS <% database %>.<% landing_schema %>.CONTROL_FILES (
    BATCH_ID VARCHAR,
    PRODUCER VARCHAR,
    ENTITY VARCHAR,
    LOAD_DATE VARCHAR,
    FILE_NAME VARCHAR,
    FILE_FORMAT VARCHAR,
    ROW_COUNT VARCHAR,
    BYTES VARCHAR,
    MD5 VARCHAR,
    CONTROL_PATH VARCHAR,
    INGESTED_AT TIMESTAMP_NTZ
)
    COMMENT = 'Producers control files: the files, row counts and checksums each batch promised';

CREATE TABLE IF NOT EXISTS <% database %>.<% landing_schema %>.INGEST_ERRORS (
    BATCH_ID VARCHAR,
    FILE_NAME VARCHAR,
    REASON VARCHAR,
    RECORDED_AT TIMESTAMP_NTZ
)
    COMMENT = 'Files that could not be read, and why; the rest of their batch was loaded';

CREATE TABLE IF NOT EXISTS <% database %>.<% landing_schema %>.RECONCILIATION (
    BATCH_ID VARCHAR,
    PRODUCER VARCHAR,
    ENTITY VARCHAR,
    FILE_NAME VARCHAR,
    ISSUE VARCHAR,
    EXPECTED_ROWS NUMBER(38,0),
    LANDED_ROWS NUMBER(38,0),
    RECORDED_AT TIMESTAMP_NTZ
)
    COMMENT = 'Where a batch differs from its control files: missing or unreadable files, row counts';

CREATE TABLE IF NOT EXISTS <% database %>.<% landing_schema %>.INGESTED_FILES (
    BATCH_ID VARCHAR,
    FILE_NAME VARCHAR,
    STATUS VARCHAR,
    ROWS_LOADED NUMBER(38,0),
    INGESTED_AT TIMESTAMP_NTZ
)
    COMMENT = 'Every data file ingestion loaded, with its row count (0 for an empty extract), so reconciliation tells a quiet day from a missing file';

CREATE TABLE IF NOT EXISTS <% database %>.<% landing_schema %>.SCHEMA_DRIFT (
    BATCH_ID VARCHAR,
    FILE_NAME VARCHAR,
    ENTITY VARCHAR,
    COLUMN_NAME VARCHAR,
    CHANGE VARCHAR,
    RECORDED_AT TIMESTAMP_NTZ
)
    COMMENT = 'Files whose columns differ from the spec: extra_column (ignored, rows load) or missing_column (rows quarantined)';

CREATE TABLE IF NOT EXISTS <% database %>.<% landing_schema %>.INGEST_LOCK (
    LOCK_NAME VARCHAR,
    RUN_ID VARCHAR,
    LOCKED_AT TIMESTAMP_NTZ
)
    COMMENT = 'The ingestion lease: one INGEST_LANDING at a time, so two runs never land a file twice';
INSERT INTO <% database %>.<% landing_schema %>.INGEST_LOCK (LOCK_NAME)
    SELECT 'INGEST_LANDING' WHERE NOT EXISTS (SELECT 1 FROM <% database %>.<% landing_schema %>.INGEST_LOCK WHERE LOCK_NAME = 'INGEST_LANDING');
