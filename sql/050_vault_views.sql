-- Generated from procedures/spec.py by `make ddl`; do not edit by hand.

CREATE OR REPLACE VIEW <% database %>.<% vault_schema %>.STS_PRODUCT_CURRENT
    COMMENT = 'The latest status of every product key'
AS SELECT t.*, t.STATUS = 'DELETED' AS IS_DELETED FROM <% database %>.<% vault_schema %>.STS_PRODUCT t
QUALIFY ROW_NUMBER() OVER (PARTITION BY t.PRODUCT_HK ORDER BY t.LOAD_TS DESC) = 1;

CREATE OR REPLACE VIEW <% database %>.<% vault_schema %>.SAT_CUSTOMER_CURRENT
    COMMENT = 'Rows of sat_customer with valid_from, valid_to and is_current'
AS SELECT
    s.*,
    s.LOAD_TS AS VALID_FROM,
    COALESCE(LEAD(s.LOAD_TS) OVER (PARTITION BY s.CUSTOMER_HK ORDER BY s.LOAD_TS), CAST('9999-12-31 00:00:00' AS TIMESTAMP_NTZ)) AS VALID_TO,
    LEAD(s.LOAD_TS) OVER (PARTITION BY s.CUSTOMER_HK ORDER BY s.LOAD_TS) IS NULL AS IS_CURRENT
FROM <% database %>.<% vault_schema %>.SAT_CUSTOMER s;

CREATE OR REPLACE VIEW <% database %>.<% vault_schema %>.SAT_CUSTOMER_PII_CURRENT
    COMMENT = 'Rows of sat_customer_pii with valid_from, valid_to and is_current'
AS SELECT
    s.*,
    s.LOAD_TS AS VALID_FROM,
    COALESCE(LEAD(s.LOAD_TS) OVER (PARTITION BY s.CUSTOMER_HK ORDER BY s.LOAD_TS), CAST('9999-12-31 00:00:00' AS TIMESTAMP_NTZ)) AS VALID_TO,
    LEAD(s.LOAD_TS) OVER (PARTITION BY s.CUSTOMER_HK ORDER BY s.LOAD_TS) IS NULL AS IS_CURRENT
FROM <% database %>.<% vault_schema %>.SAT_CUSTOMER_PII s;

CREATE OR REPLACE VIEW <% database %>.<% vault_schema %>.SAT_ACCOUNT_CURRENT
    COMMENT = 'Rows of sat_account with valid_from, valid_to and is_current'
AS SELECT
    s.*,
    s.LOAD_TS AS VALID_FROM,
    COALESCE(LEAD(s.LOAD_TS) OVER (PARTITION BY s.ACCOUNT_HK ORDER BY s.LOAD_TS), CAST('9999-12-31 00:00:00' AS TIMESTAMP_NTZ)) AS VALID_TO,
    LEAD(s.LOAD_TS) OVER (PARTITION BY s.ACCOUNT_HK ORDER BY s.LOAD_TS) IS NULL AS IS_CURRENT
FROM <% database %>.<% vault_schema %>.SAT_ACCOUNT s;

CREATE OR REPLACE VIEW <% database %>.<% vault_schema %>.SAT_TRANSACTION_CURRENT
    COMMENT = 'Rows of sat_transaction with valid_from, valid_to and is_current'
AS SELECT
    s.*,
    s.LOAD_TS AS VALID_FROM,
    COALESCE(LEAD(s.LOAD_TS) OVER (PARTITION BY s.TRANSACTION_HK ORDER BY s.LOAD_TS), CAST('9999-12-31 00:00:00' AS TIMESTAMP_NTZ)) AS VALID_TO,
    LEAD(s.LOAD_TS) OVER (PARTITION BY s.TRANSACTION_HK ORDER BY s.LOAD_TS) IS NULL AS IS_CURRENT
FROM <% database %>.<% vault_schema %>.SAT_TRANSACTION s;

CREATE OR REPLACE VIEW <% database %>.<% vault_schema %>.SAT_ORDER_CURRENT
    COMMENT = 'Rows of sat_order with valid_from, valid_to and is_current'
AS SELECT
    s.*,
    s.LOAD_TS AS VALID_FROM,
    COALESCE(LEAD(s.LOAD_TS) OVER (PARTITION BY s.ORDER_HK ORDER BY s.LOAD_TS), CAST('9999-12-31 00:00:00' AS TIMESTAMP_NTZ)) AS VALID_TO,
    LEAD(s.LOAD_TS) OVER (PARTITION BY s.ORDER_HK ORDER BY s.LOAD_TS) IS NULL AS IS_CURRENT
FROM <% database %>.<% vault_schema %>.SAT_ORDER s;

CREATE OR REPLACE VIEW <% database %>.<% vault_schema %>.SAT_PRODUCT_CURRENT
    COMMENT = 'Rows of sat_product with valid_from, valid_to, is_current and is_deleted'
AS SELECT
    s.*,
    s.LOAD_TS AS VALID_FROM,
    COALESCE(LEAD(s.LOAD_TS) OVER (PARTITION BY s.PRODUCT_HK ORDER BY s.LOAD_TS), CAST('9999-12-31 00:00:00' AS TIMESTAMP_NTZ)) AS VALID_TO,
    LEAD(s.LOAD_TS) OVER (PARTITION BY s.PRODUCT_HK ORDER BY s.LOAD_TS) IS NULL AS IS_CURRENT,
    (LEAD(s.LOAD_TS) OVER (PARTITION BY s.PRODUCT_HK ORDER BY s.LOAD_TS) IS NULL) AND COALESCE(st.STATUS = 'DELETED', FALSE) AS IS_DELETED
FROM <% database %>.<% vault_schema %>.SAT_PRODUCT s
LEFT JOIN <% database %>.<% vault_schema %>.STS_PRODUCT_CURRENT st ON st.PRODUCT_HK = s.PRODUCT_HK;

CREATE OR REPLACE VIEW <% database %>.<% vault_schema %>.SAT_EXCHANGE_RATE_CURRENT
    COMMENT = 'Rows of sat_exchange_rate with valid_from, valid_to and is_current'
AS SELECT
    s.*,
    s.LOAD_TS AS VALID_FROM,
    COALESCE(LEAD(s.LOAD_TS) OVER (PARTITION BY s.EXCHANGE_RATE_HK ORDER BY s.LOAD_TS), CAST('9999-12-31 00:00:00' AS TIMESTAMP_NTZ)) AS VALID_TO,
    LEAD(s.LOAD_TS) OVER (PARTITION BY s.EXCHANGE_RATE_HK ORDER BY s.LOAD_TS) IS NULL AS IS_CURRENT
FROM <% database %>.<% vault_schema %>.SAT_EXCHANGE_RATE s;

CREATE OR REPLACE VIEW <% database %>.<% vault_schema %>.SAT_INTERACTION_CURRENT
    COMMENT = 'Rows of sat_interaction with valid_from, valid_to and is_current'
AS SELECT
    s.*,
    s.LOAD_TS AS VALID_FROM,
    COALESCE(LEAD(s.LOAD_TS) OVER (PARTITION BY s.INTERACTION_HK ORDER BY s.LOAD_TS), CAST('9999-12-31 00:00:00' AS TIMESTAMP_NTZ)) AS VALID_TO,
    LEAD(s.LOAD_TS) OVER (PARTITION BY s.INTERACTION_HK ORDER BY s.LOAD_TS) IS NULL AS IS_CURRENT
FROM <% database %>.<% vault_schema %>.SAT_INTERACTION s;

CREATE OR REPLACE VIEW <% database %>.<% vault_schema %>.SAT_OPPORTUNITY_CURRENT
    COMMENT = 'Rows of sat_opportunity with valid_from, valid_to and is_current'
AS SELECT
    s.*,
    s.LOAD_TS AS VALID_FROM,
    COALESCE(LEAD(s.LOAD_TS) OVER (PARTITION BY s.OPPORTUNITY_HK ORDER BY s.LOAD_TS), CAST('9999-12-31 00:00:00' AS TIMESTAMP_NTZ)) AS VALID_TO,
    LEAD(s.LOAD_TS) OVER (PARTITION BY s.OPPORTUNITY_HK ORDER BY s.LOAD_TS) IS NULL AS IS_CURRENT
FROM <% database %>.<% vault_schema %>.SAT_OPPORTUNITY s;

CREATE OR REPLACE VIEW <% database %>.<% vault_schema %>.EFF_SAT_CUSTOMER_ACCOUNT_CURRENT
    COMMENT = 'Open relationships of link_customer_account: one per account'
AS SELECT e.* FROM <% database %>.<% vault_schema %>.EFF_SAT_CUSTOMER_ACCOUNT e
QUALIFY ROW_NUMBER() OVER (PARTITION BY e.CUSTOMER_ACCOUNT_HK ORDER BY e.LOAD_TS DESC) = 1 AND e.END_AT = CAST('9999-12-31 00:00:00' AS TIMESTAMP_NTZ);

CREATE OR REPLACE VIEW <% database %>.<% vault_schema %>.MSAT_CUSTOMER_CONTACT_CURRENT
    COMMENT = 'The current set of contacts of every customer'
AS SELECT m.* FROM <% database %>.<% vault_schema %>.MSAT_CUSTOMER_CONTACT m
QUALIFY m.LOAD_TS = MAX(m.LOAD_TS) OVER (PARTITION BY m.CUSTOMER_HK);
