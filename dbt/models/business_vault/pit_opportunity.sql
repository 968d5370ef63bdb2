-- Generated from procedures/spec.py by `make ddl` (lake/business_vault.py); do not edit by hand.
-- Point in time of hub_opportunity: per retained snapshot date, the load_ts of the row of
-- each satellite in effect then (sat_opportunity).
{{ pit('HUB_OPPORTUNITY', 'opportunity_hk', ['SAT_OPPORTUNITY']) }}
