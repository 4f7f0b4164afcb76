{#- PostgreSQL, before every `dbt run` or `dbt build`: fresh planner statistics for the raw tables the
    incremental models filter by batch. Without them the planner believes a new batch holds one row (its batch
    id lies beyond the histogram) and picks nested loops that re-run a subquery per changed record: seconds
    became minutes at 1M rows. ANALYZE samples a fixed number of rows, so it costs about the same at any size. -#}
{% macro refresh_raw_statistics() -%}
    {%- if target.type == 'postgres' and flags.WHICH in ('run', 'build') -%}
    {%- set schema = adapter.quote(target.schema) -%}
    analyze {{ schema }}.raw_yclients_records, {{ schema }}.raw_yclients_record_services,
        {{ schema }}.raw_yclients_clients, {{ schema }}.raw_yclients_services
    {%- endif -%}
{%- endmacro %}
