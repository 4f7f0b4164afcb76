{#- One row per company, as-of date and due client (after exclusions, as `due_clients` has them): what the return
    outlook predicted that day for the client's most overdue service. Incremental and append-only, kept through
    `--full-refresh` like `int_due_snapshots`: a day is taken by its first build and never rewritten, so
    `outlook_calibration` can later compare each prediction with what the client did within the horizon. -#}
{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        full_refresh=false,
    )
}}

with candidates as (
    select * from {{ ref('int_due_candidates') }}
),

exclusions as (
    select * from {{ ref('int_due_exclusions') }}
),

outlook as (
    select * from {{ ref('int_return_outlook') }}
),

final as (
    select
        candidates.company_id,
        candidates.as_of_date,
        candidates.as_of_at,
        candidates.client_id,
        candidates.service_id,
        candidates.tone,
        outlook.p_active,
        outlook.p_winback_needed,
        -- still a client and back on their own within the horizon: p_active × (1 − P(no return within it))
        outlook.p_active - outlook.p_winback_needed as p_return_in_horizon,
        outlook.predicted_segment,
        current_timestamp as snapshot_at
    from candidates
    inner join outlook
        on outlook.company_id = candidates.company_id
        and outlook.client_id = candidates.client_id
        and outlook.service_id = candidates.service_id
    where not exists (
        select 1
        from exclusions
        where exclusions.company_id = candidates.company_id
            and exclusions.client_id = candidates.client_id
    )
    {% if is_incremental() %}
        and not exists (
            select 1
            from {{ this }} as taken
            where taken.company_id = candidates.company_id
                and taken.as_of_date = candidates.as_of_date
        )
    {% endif %}
)

select * from final
