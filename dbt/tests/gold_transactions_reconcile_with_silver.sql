-- Aggregation accuracy, exact (money is NUMBER on both engines): per account, gold's count
-- equals silver's, and its volumes equal silver's transactions booked in the account's
-- currency (a transaction in another currency is counted, never added to the volumes).
with silver as (
    select
        t.account_id,
        count(*) as transaction_count,
        sum(case when t.currency = g.currency and t.direction = 'CREDIT' then t.amount else 0 end) as credit_volume,
        sum(case when t.currency = g.currency and t.direction = 'DEBIT' then t.amount else 0 end) as debit_volume
    from {{ ref('silver_transactions') }} as t
    inner join {{ ref('gold_transaction_summary') }} as g on t.account_id = g.account_id
    group by t.account_id
)

select
    g.account_id,
    g.transaction_count,
    s.transaction_count as silver_count
from {{ ref('gold_transaction_summary') }} as g
left join silver as s on g.account_id = s.account_id
where
    g.transaction_count <> coalesce(s.transaction_count, 0)
    or g.credit_volume <> coalesce(s.credit_volume, 0)
    or g.debit_volume <> coalesce(s.debit_volume, 0)
