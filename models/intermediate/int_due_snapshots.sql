{#- One row per company and as-of date the project was built for: active, due and excluded clients by reason,
    as the day's first build saw them (before that day's messages put clients in cooldown). Incremental and
    append-only, kept through `--full-refresh`, so the funnel keeps its history. -#}
{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        full_refresh=false,
    )
}}

with health as (
    select * from {{ ref('int_company_health') }}
),

exclusions as (
    select * from {{ ref('int_due_exclusions') }}
),

reasons as (
    select
        company_id,
        {%- for reason in var('exclusion_reasons') %}
        count(distinct case when reason = '{{ reason }}' then client_id end) as excluded_{{ reason }},
        {%- endfor %}
        count(distinct client_id) as excluded_clients
    from exclusions
    group by company_id
),

final as (
    select
        health.company_id,
        health.as_of_date,
        health.active_clients,
        health.due_clients + coalesce(reasons.excluded_clients, 0) as due_before_exclusions,
        {%- for reason in var('exclusion_reasons') %}
        coalesce(reasons.excluded_{{ reason }}, 0) as excluded_{{ reason }},
        {%- endfor %}
        health.due_clients as due_after_exclusions,
        current_timestamp as snapshot_at
    from health
    left join reasons
        on reasons.company_id = health.company_id
    -- a held company (unusable time zone) has no as-of date: nothing to snapshot until it is fixed
    where not health.is_held
    {% if is_incremental() %}
        and not exists (
            select 1
            from {{ this }} as taken
            where taken.company_id = health.company_id
                and taken.as_of_date = health.as_of_date
        )
    {% endif %}
)

select * from final
