-- The schemas, one per layer, in the database the account bootstrap creates
-- (sql/005_account.sql). Idempotent: safe to re-run.

CREATE SCHEMA IF NOT EXISTS <% database %>.<% landing_schema %>
    COMMENT = 'Files from the S3 landing zone, every column as text';
CREATE SCHEMA IF NOT EXISTS <% database %>.<% vault_schema %>
    COMMENT = 'Data Vault 2.0 raw vault: hubs, links, satellites';
CREATE SCHEMA IF NOT EXISTS <% database %>.<% quality_schema %>
    COMMENT = 'Data quality rules, results history and exceptions';
CREATE SCHEMA IF NOT EXISTS <% database %>.<% audit_schema %>
    COMMENT = 'Procedure runs, loads and reconciliation';
CREATE SCHEMA IF NOT EXISTS <% database %>.<% bronze_schema %>
    COMMENT = 'dbt bronze: raw data from the vault';
CREATE SCHEMA IF NOT EXISTS <% database %>.<% silver_schema %>
    COMMENT = 'dbt silver: cleansed and conformed';
CREATE SCHEMA IF NOT EXISTS <% database %>.<% gold_schema %>
    COMMENT = 'dbt gold: business-ready marts';
CREATE SCHEMA IF NOT EXISTS <% database %>.<% gold_pending_schema %>
    COMMENT = 'dbt gold being validated; PUBLISH_GOLD swaps it with gold';
