{#- After an incremental run: a service re-categorised on the menu (or by the rules seed) updates old rows too.
    Only services whose category changed in this dbt invocation (`int_service_categories` marks them) are
    joined, and when there are none no update is issued at all, so a run without re-categorisation does not
    scan the cache. -#}
{% macro refresh_cache_categories() -%}
    {%- if is_incremental() and execute -%}
    {%- set recategorised = run_query(
        "select count(*) from " ~ ref('int_service_categories')
        ~ " where category_invocation_id = '" ~ invocation_id ~ "'"
    ) -%}
    {%- if recategorised.columns[0].values()[0] > 0 -%}
    update {{ this }}
    set category = service_categories.category
    from {{ ref('int_service_categories') }} as service_categories
    where service_categories.category_invocation_id = '{{ invocation_id }}'
        and service_categories.company_id = {{ this }}.company_id
        and service_categories.service_id = {{ this }}.service_id
        and service_categories.category is distinct from {{ this }}.category
    {%- endif -%}
    {%- endif -%}
{%- endmacro %}
