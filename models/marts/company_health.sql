{#- One row per company: volumes and freshness the quality gate checks before any message leaves, and whether the
    company is held (its time zone is unusable). Counted in `int_company_health`, which the daily snapshots read too. -#}
with health as (
    select * from {{ ref('int_company_health') }}
),

final as (
    select
        company_id,
        company_name,
        is_held,
        timezone_error,
        as_of_date,
        active_clients,
        due_clients,
        excluded_clients,
        records,
        last_record_change_at,
        last_loaded_at
    from health
)

select * from final
