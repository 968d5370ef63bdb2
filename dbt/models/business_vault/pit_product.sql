-- Generated from procedures/spec.py by `make ddl` (lake/business_vault.py); do not edit by hand.
-- Point in time of hub_product: per retained snapshot date, the load_ts of the row of
-- each satellite in effect then (sat_product, sts_product).
{{ pit('HUB_PRODUCT', 'product_hk', ['SAT_PRODUCT', 'STS_PRODUCT']) }}
