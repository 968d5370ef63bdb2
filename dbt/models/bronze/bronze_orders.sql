{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='order_hk') }}
-- Each order's current satellite row, the customer who placed it and the product
-- (latest links); incremental from the vault's new rows (macros/bronze_current.sql).
{{ bronze_current(
    'HUB_ORDER', 'order_hk', 'order_id', 'SAT_ORDER',
    ['quantity', 'unit_price', 'currency', 'order_status', 'channel', 'ordered_at', 'updated_at'],
    [{'link': 'LINK_CUSTOMER_ORDER', 'hub': 'HUB_CUSTOMER', 'hub_key': 'customer_hk', 'business_key': 'customer_id'},
     {'link': 'LINK_ORDER_PRODUCT', 'hub': 'HUB_PRODUCT', 'hub_key': 'product_hk', 'business_key': 'product_id'}]
) }}
