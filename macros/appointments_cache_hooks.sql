{#- Before an incremental run: drop every cached row of a record that changed since the cache was built,
    so services removed from a record (or a record that became unusable) do not linger. -#}
{% macro delete_changed_records_from_cache() -%}
    {%- if is_incremental() -%}
    delete from {{ this }}
    where exists (
        select 1
        from {{ ref('stg_yclients__records') }} as changed
        where changed.company_id = {{ this }}.company_id
            and changed.record_id = {{ this }}.record_id
            and changed.batch_id > (select coalesce(max(batch_id), 0) from {{ this }})
    )
    {%- endif -%}
{%- endmacro %}

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
