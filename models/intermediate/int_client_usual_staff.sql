{#- One row per company and client with an attended visit naming a master in the `usual_staff_window_days` (365)
    days before the as-of date D (local dates D - 365 .. D - 1): the client's usual master. A visit is a distinct
    (client, master, local date) of an attended, not deleted record. The master with the most visits wins; ties go to
    the master seen most recently, then the lowest staff id. A master who was fired, or whom the staff list does not
    know, is kept as the usual one (the client's history says so) but not named and not linked to: messages then
    name nobody and use the company's general booking link. -#}
with records as (
    select * from {{ ref('stg_yclients__records') }}
),

staff as (
    select * from {{ ref('stg_yclients__staff') }}
),

companies as (
    select * from {{ ref('int_companies_as_of') }}
),

company_links as (
    select * from {{ ref('stg_yclients__companies') }}
),

visits as (
    select distinct
        records.company_id,
        records.client_id,
        records.staff_id,
        {{ local_date('records.visit_at', 'companies.timezone') }} as visit_date,
        companies.as_of_date
    from records
    -- a held company has no as-of moment: nothing is chosen for it
    inner join companies
        on companies.company_id = records.company_id
    where records.client_id is not null
        and records.staff_id is not null
        and records.attendance = 1
        and not records.is_deleted
        and records.visit_at < companies.as_of_at
        -- a coarse bound the raw visit_at index can use; the exact window is on local dates below
        and records.visit_at >= {{ dbt.dateadd('day', -(var('usual_staff_window_days') + 2), 'companies.as_of_at') }}
),

per_master as (
    select
        company_id,
        client_id,
        staff_id,
        count(*) as visit_count,
        max(visit_date) as last_visit_date
    from visits
    where {{ days_between('visit_date', 'as_of_date') }} between 1 and {{ var('usual_staff_window_days') }}
    group by company_id, client_id, staff_id
),

ranked as (
    select
        *,
        row_number() over (
            partition by company_id, client_id
            order by visit_count desc, last_visit_date desc, staff_id
        ) as master_rank
    from per_master
),

final as (
    select
        ranked.company_id,
        ranked.client_id,
        ranked.staff_id as usual_staff_id,
        ranked.visit_count as usual_staff_visits,
        ranked.last_visit_date as usual_staff_last_visit_date,
        coalesce(staff.is_fired, false) as is_usual_staff_fired,
        case when not staff.is_fired then staff.staff_name end as usual_staff_name,
        case
            when not staff.is_fired and company_links.staff_booking_url is not null
                then replace(
                    replace(company_links.staff_booking_url, '{staff_id}', cast(ranked.staff_id as varchar)),
                    '{company_id}', cast(ranked.company_id as varchar)
                )
        end as usual_staff_booking_url
    from ranked
    left join staff
        on staff.company_id = ranked.company_id
        and staff.staff_id = ranked.staff_id
    left join company_links
        on company_links.company_id = ranked.company_id
    where ranked.master_rank = 1
)

select * from final
