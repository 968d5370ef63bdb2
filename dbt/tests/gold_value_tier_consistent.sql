-- Value tier consistency: every customer's tier is the one its lifetime value earns.
select
    customer_id,
    lifetime_value_reporting,
    value_tier
from {{ ref('gold_customer_summary') }}
where value_tier <> {{ value_tier('lifetime_value_reporting') }}
