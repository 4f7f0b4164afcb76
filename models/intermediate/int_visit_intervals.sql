{#- One row per visit after a client's first visit for a service: days since the previous visit, and
    whether that interval is plausible enough to learn from. -#}
with visits as (
    select * from {{ ref('int_visits') }}
),

with_previous as (
    select
        company_id,
        client_id,
        service_id,
        visit_date,
        lag(visit_date) over (
            partition by company_id, client_id, service_id
            order by visit_date
        ) as previous_visit_date
    from visits
),

final as (
    select
        company_id,
        client_id,
        service_id,
        visit_date,
        previous_visit_date,
        {{ days_between('previous_visit_date', 'visit_date') }} as interval_days,
        {{ days_between('previous_visit_date', 'visit_date') }}
            between {{ var('interval_min_days') }} and {{ var('interval_max_days') }} as is_valid
    from with_previous
    where previous_visit_date is not null
)

select * from final
