{#- One row per company, client, service and local visit date: attended, not deleted, before the as-of date.
    Same-day duplicates collapse into one visit. -#}
with appointments as (
    select * from {{ ref('appointments_cache') }}
),

companies as (
    select * from {{ ref('int_companies_as_of') }}
),

final as (
    select
        appointments.company_id,
        appointments.client_id,
        appointments.service_id,
        appointments.visit_date
    from appointments
    inner join companies
        on companies.company_id = appointments.company_id
    where appointments.attendance = 1
        and not appointments.is_deleted
        and appointments.visit_date < companies.as_of_date
    group by
        appointments.company_id,
        appointments.client_id,
        appointments.service_id,
        appointments.visit_date
)

select * from final
