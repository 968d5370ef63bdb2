-- Generated from procedures/spec.py by `make ddl` (lake/business_vault.py); do not edit by hand.
-- Point in time of hub_customer: per retained snapshot date, the load_ts of the row of
-- each satellite in effect then (sat_customer, sat_customer_pii, msat_customer_contact).
{{ pit('HUB_CUSTOMER', 'customer_hk', ['SAT_CUSTOMER', 'SAT_CUSTOMER_PII', 'MSAT_CUSTOMER_CONTACT']) }}
