{#- One row per company and client holding a non-deleted record at or after the as-of moment
    (any service, any attendance): they are coming anyway, so they are not messaged. -#}
with companies as (
    select * from {{ ref('int_companies_as_of') }}
),

records as (
    select * from {{ ref('stg_yclients__records') }}
    -- redundant with the per-company filter below, but one bound for the whole scan (the earliest as-of moment,
    -- computed once): "future bookings" become an index range scan on visit_at instead of a read of the history
    where visit_at >= (select min(as_of_at) from companies)
),

final as (
    select
        records.company_id,
        records.client_id,
        min(records.visit_at) as next_booking_at,
        count(*) as booking_count
    from records
    inner join companies
        on companies.company_id = records.company_id
    where records.client_id is not null
        and not records.is_deleted
        and records.visit_at >= companies.as_of_at
    group by records.company_id, records.client_id
)

select * from final
