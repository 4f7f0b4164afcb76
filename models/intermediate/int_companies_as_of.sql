{#- One row per company: its time zone and the run's as-of date D and as-of moment (00:00 of D, local).
    A company whose time zone is not an IANA name (ingest sets `timezone_error`) is held: its row stays, so the
    runner and `company_health` can name it, but its zone, D and moment are NULL, so nothing downstream converts
    with the bad zone and no interval, due client or message is derived for it. The requested D comes from the
    run context the runner writes before each run (one row), not from a var, so a new date does not re-parse. -#}
with companies as (
    select * from {{ ref('stg_yclients__companies') }}
),

run_context as (
    select * from {{ ref('stg_runner__run_context') }}
),

checked as (
    select
        company_id,
        company_name,
        case when timezone_error is null then timezone end as timezone,
        timezone_error,
        timezone_error is not null as is_held,
        locale,
        country,
        booking_url
    from companies
),

dated as (
    select
        company_id,
        company_name,
        timezone,
        timezone_error,
        is_held,
        locale,
        country,
        booking_url,
        case when not is_held then {{ as_of_date('run_context.as_of_date', 'timezone') }} end as as_of_date
    from checked
    cross join run_context
),

final as (
    select
        company_id,
        company_name,
        timezone,
        timezone_error,
        is_held,
        locale,
        country,
        booking_url,
        as_of_date,
        {{ local_midnight('as_of_date', 'timezone') }} as as_of_at
    from dated
)

select * from final
