-- Generated from procedures/spec.py by `make ddl` (lake/business_vault.py); do not edit by hand.
-- Point in time of hub_transaction: per retained snapshot date, the load_ts of the row of
-- each satellite in effect then (sat_transaction).
{{ pit('HUB_TRANSACTION', 'transaction_hk', ['SAT_TRANSACTION']) }}
