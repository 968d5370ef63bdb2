{{ config(materialized='table') }}
-- The rate of every priced currency to the reporting currency (var reporting_currency,
-- LAKE_REPORTING_CURRENCY), one row per currency and calendar day from the currency's first
-- fixing to the latest loaded batch's date (or its last fixing, when later).
--
-- The one rule for a day without a fixing (a weekend, a holiday, a quarantined row): the
-- last fixing before it is used and the row says so (is_carried, fixing_date). A currency
-- with no fixing on or before a day has no row for it: an amount there is not converted
-- (NULL) and the silver rules `*_converted` report it as an error, never as a 1.0 rate.
--
-- The feed quotes every currency in one quote currency Q (the vault rule
-- vault_exchange_rates_one_quote_currency checks it): rate(c -> R) = rate(c -> Q) / rate(R -> Q),
-- both taken on the same day; Q's own rate to itself is 1 by definition. The cross rate is
-- rounded half away from zero to 8 places, the precision fixings are delivered in.
with fixings as (
    -- each fixing's latest version (a correction is a new satellite row)
    select
        s.rate_date,
        s.rate,
        upper(trim(s.currency)) as currency,
        upper(trim(s.quote_currency)) as quote_currency
    from {{ source('vault', 'SAT_EXCHANGE_RATE') }} as s
    where s.rate > 0 and s.rate_date is not null and s.currency is not null
    qualify row_number() over (partition by s.exchange_rate_hk order by s.load_ts desc) = 1
),

one_per_day as (
    -- two fixings of one currency and day under different rate ids (a producer's mistake):
    -- the higher rate, so the choice never depends on load order
    select
        f.currency,
        f.quote_currency,
        f.rate_date,
        max(f.rate) as rate
    from fixings as f
    group by f.currency, f.quote_currency, f.rate_date
),

quote as (
    select max(o.quote_currency) as quote_currency from one_per_day as o
),

quoted as (
    -- every currency's fixings in Q, and Q itself at 1 on every day any fixing exists
    select
        o.currency,
        o.rate_date,
        o.rate
    from one_per_day as o
    union all
    select distinct
        q.quote_currency as currency,
        o.rate_date,
        cast(1 as number(18, 8)) as rate
    from one_per_day as o
    cross join quote as q
),

bounds as (
    select
        min(q.rate_date) as first_date,
        greatest(
            max(q.rate_date),
            coalesce((select max(d.snapshot_date) from {{ ref('as_of_dates') }} as d), max(q.rate_date))
        ) as last_date
    from quoted as q
),

days as (
    select cast(dateadd('day', g.n, b.first_date) as date) as rate_day
    from (
        select row_number() over (order by seq4()) - 1 as n
        from table(generator(rowcount => 36600))
    ) as g
    cross join bounds as b
    where g.n <= datediff('day', b.first_date, b.last_date)
),

first_fixings as (
    select
        x.currency,
        min(x.rate_date) as first_date
    from quoted as x
    group by x.currency
),

grid as (
    -- each currency on each day from its first fixing, with the day of the fixing in force
    select
        c.currency,
        d.rate_day,
        max(q.rate_date) over (
            partition by c.currency order by d.rate_day rows between unbounded preceding and current row
        ) as fixing_date
    from first_fixings as c
    inner join days as d on c.first_date <= d.rate_day
    left join quoted as q on c.currency = q.currency and d.rate_day = q.rate_date
),

in_force as (
    select
        g.currency,
        g.rate_day,
        g.fixing_date,
        q.rate
    from grid as g
    inner join quoted as q on g.currency = q.currency and g.fixing_date = q.rate_date
),

final as (
    select
        c.currency,
        c.rate_day,
        '{{ var("reporting_currency") }}' as reporting_currency,
        case
            when c.currency = '{{ var("reporting_currency") }}' then cast(1 as number(18, 8))
            else cast(round(c.rate / r.rate, 8) as number(18, 8))
        end as rate_to_reporting,
        c.fixing_date,
        c.currency <> '{{ var("reporting_currency") }}'
        and (c.fixing_date < c.rate_day or r.fixing_date < c.rate_day) as is_carried
    from in_force as c
    inner join in_force as r on r.currency = '{{ var("reporting_currency") }}' and c.rate_day = r.rate_day
)

select * from final
