{#- One row per company, client and service: the return interval chosen by the waterfall
    personal → service → industry → fallback, rounded half up and clamped to the valid bounds. -#}
with personal as (
    select * from {{ ref('int_intervals_personal') }}
),

service as (
    select * from {{ ref('int_intervals_service') }}
),

service_categories as (
    select * from {{ ref('int_service_categories') }}
),

industry as (
    select * from {{ ref('industry_standards') }}
),

levels as (
    select
        personal.company_id,
        personal.client_id,
        personal.service_id,
        personal.visit_count,
        personal.first_visit_date,
        personal.last_visit_date,
        service_categories.category,
        case
            when personal.valid_interval_count >= {{ var('personal_min_intervals') }} then 'personal'
            when service.valid_interval_count >= {{ var('service_min_intervals') }}
                and service.client_count >= {{ var('service_min_clients') }} then 'service'
            when industry.typical_interval_days is not null then 'industry'
            else 'fallback'
        end as interval_level,
        personal.valid_interval_count as personal_interval_count,
        personal.median_interval_days as personal_median_days,
        service.valid_interval_count as service_interval_count,
        service.median_interval_days as service_median_days,
        industry.typical_interval_days as industry_interval_days
    from personal
    left join service
        on service.company_id = personal.company_id
        and service.service_id = personal.service_id
    left join service_categories
        on service_categories.company_id = personal.company_id
        and service_categories.service_id = personal.service_id
    left join industry
        on industry.category = service_categories.category
),

chosen as (
    select
        *,
        case interval_level
            when 'personal' then personal_median_days
            when 'service' then service_median_days
            when 'industry' then industry_interval_days
            else {{ var('fallback_interval_days') }}
        end as raw_interval_days,
        case interval_level
            when 'personal' then personal_interval_count
            when 'service' then service_interval_count
            else 0
        end as interval_count
    from levels
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
        interval_level,
        interval_count,
        raw_interval_days,
        least(
            greatest({{ round_half_up('raw_interval_days') }}, {{ var('interval_min_days') }}),
            {{ var('interval_max_days') }}
        ) as interval_days,
        personal_interval_count,
        personal_median_days,
        service_interval_count,
        service_median_days,
        industry_interval_days
    from chosen
)

select * from final
