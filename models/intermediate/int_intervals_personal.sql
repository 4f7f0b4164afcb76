{#- One row per company, client and service with at least one visit: the visit history summary and the
    median of the client's own valid intervals. -#}
with visits as (
    select * from {{ ref('int_visits') }}
),

intervals as (
    select * from {{ ref('int_visit_intervals') }}
    where is_valid
),

visit_summary as (
    select
        company_id,
        client_id,
        service_id,
        count(*) as visit_count,
        min(visit_date) as first_visit_date,
        max(visit_date) as last_visit_date
    from visits
    group by company_id, client_id, service_id
),

interval_summary as (
    select
        company_id,
        client_id,
        service_id,
        count(*) as valid_interval_count,
        {{ median('interval_days') }} as median_interval_days
    from intervals
    group by company_id, client_id, service_id
),

final as (
    select
        visit_summary.company_id,
        visit_summary.client_id,
        visit_summary.service_id,
        visit_summary.visit_count,
        visit_summary.first_visit_date,
        visit_summary.last_visit_date,
        coalesce(interval_summary.valid_interval_count, 0) as valid_interval_count,
        interval_summary.median_interval_days
    from visit_summary
    left join interval_summary
        on interval_summary.company_id = visit_summary.company_id
        and interval_summary.client_id = visit_summary.client_id
        and interval_summary.service_id = visit_summary.service_id
)

select * from final
