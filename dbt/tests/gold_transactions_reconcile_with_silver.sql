-- Aggregation accuracy: per account, gold's count equals silver's and its volumes agree to
-- the cent (sums may be computed in floating point, in any order).
with silver as (
    select
        account_id,
        count(*) as transaction_count,
        sum(case when direction = 'CREDIT' then amount else 0 end) as credit_volume,
        sum(case when direction = 'DEBIT' then amount else 0 end) as debit_volume
    from {{ ref('silver_transactions') }}
    group by account_id
)

select
    g.account_id,
    g.transaction_count,
    s.transaction_count as silver_count
from {{ ref('gold_transaction_summary') }} as g
left join silver as s on g.account_id = s.account_id
where
    g.transaction_count <> coalesce(s.transaction_count, 0)
    or abs(g.credit_volume - coalesce(s.credit_volume, 0)) > 0.01
    or abs(g.debit_volume - coalesce(s.debit_volume, 0)) > 0.01
