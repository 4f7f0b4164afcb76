{#- After an incremental run of int_service_categories: every row that still exists was rewritten with the newest
    batch read, so a row with an older batch is a service no longer booked nor on the menu. -#}
{% macro delete_service_categories_not_rewritten() -%}
    {%- if is_incremental() -%}
    delete from {{ this }}
    where batch_id < {{ batch_watermark() }}
    {%- endif -%}
{%- endmacro %}
