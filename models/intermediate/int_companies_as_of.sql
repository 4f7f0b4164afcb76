{#- One row per company: its time zone and the run's as-of date D and as-of moment (00:00 of D, local). -#}
with companies as (
    select * from {{ ref('stg_yclients__companies') }}
),

dated as (
    select
        company_id,
        company_name,
        timezone,
        locale,
        country,
        booking_url,
        {{ as_of_date('timezone') }} as as_of_date
    from companies
),

final as (
    select
        company_id,
        company_name,
        timezone,
        locale,
        country,
        booking_url,
        as_of_date,
        {{ local_midnight('as_of_date', 'timezone') }} as as_of_at
    from dated
)

select * from final
