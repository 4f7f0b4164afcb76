with chosen as (
    select * from {{ ref('int_intervals_chosen') }}
),

final as (
    select
        company_id,
        client_id,
        service_id,
        category,
        visit_count,
        first_visit_date,
        last_visit_date,
        interval_days,
        interval_level,
        interval_count,
        raw_interval_days,
        personal_interval_count,
        personal_median_days,
        service_interval_count,
        service_median_days,
        industry_interval_days
    from chosen
)

select * from final
