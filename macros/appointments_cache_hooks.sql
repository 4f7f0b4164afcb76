{#- After an incremental run: a service re-categorised on the menu (or by the rules seed) updates old rows too. -#}
{% macro refresh_cache_categories() -%}
    {%- if is_incremental() -%}
    update {{ this }}
    set category = service_categories.category
    from {{ ref('int_service_categories') }} as service_categories
    where service_categories.company_id = {{ this }}.company_id
        and service_categories.service_id = {{ this }}.service_id
        and service_categories.category is distinct from {{ this }}.category
    {%- endif -%}
{%- endmacro %}
