{#- One row per company and service with valid intervals: how many, from how many clients, and their median. -#}
with intervals as (
    select * from {{ ref('int_visit_intervals') }}
    where is_valid
),

final as (
    select
        company_id,
        service_id,
        count(*) as valid_interval_count,
        count(distinct client_id) as client_count,
        {{ median('interval_days') }} as median_interval_days
    from intervals
    group by company_id, service_id
)

select * from final
