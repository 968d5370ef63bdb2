{#- Money in the reporting currency (var reporting_currency).

    `in_reporting(amount, rate)`: an amount times its rate to the reporting currency
    (silver_exchange_rates.rate_to_reporting), rounded to 2 places half away from zero and
    typed NUMBER(18,2) on both engines. The amount is widened to NUMBER(38,2) first: the local
    engine multiplies two 18-digit decimals in 64 bits and overflows on a balance of 80
    million at a rate above 1 (Snowflake widens the product itself). NULL when the rate is
    (no fixing).
    Snowflake's ROUND rounds half away from zero by default
    (https://docs.snowflake.com/en/sql-reference/functions/round: "rounding_mode ...
    'HALF_AWAY_FROM_ZERO' ... default"); tests/marts/test_money.py checks both engines agree.

    `money(expression)`: a monetary expression typed NUMBER(18,2) (sums: NUMBER(38,2)), so a
    division or an average never turns into FLOAT on the local engine. -#}
{% macro in_reporting(amount, rate) -%}
    cast(round(cast({{ amount }} as number(38, 2)) * {{ rate }}, 2) as number(18, 2))
{%- endmacro %}

{% macro money(expression, precision=18) -%}
    cast(round({{ expression }}, 2) as number({{ precision }}, 2))
{%- endmacro %}

{#- The rate of `currency` on `day` from silver_exchange_rates, as a join:
    left join ... as {alias} on ... -#}
{% macro rate_join(alias, currency, day) -%}
    left join {{ ref('silver_exchange_rates') }} as {{ alias }}
        on {{ currency }} = {{ alias }}.currency and {{ day }} = {{ alias }}.rate_day
{%- endmacro %}

{#- Incremental silver models: the first day whose conversion a fixing loaded since the
    model's last run may change (a late or corrected fixing, carried forward from its
    date); a date far in the future when none arrived. -#}
{% macro first_refixed_day() -%}
    (
        select coalesce(min(f.rate_date), cast('9999-12-31' as date))
        from {{ source('vault', 'SAT_EXCHANGE_RATE') }} as f
        where f.load_ts > (select coalesce(max(existing.load_ts), cast('1900-01-01' as timestamp_ntz)) from {{ this }} as existing)
    )
{%- endmacro %}
