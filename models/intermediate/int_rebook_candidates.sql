{#- One row per company and client to remind before they lapse (the rebook campaign), before exclusions: a service
    whose expected next visit (int_return_outlook: last visit + chosen interval) falls within the next
    `rebook_lead_days` (5) days, for a client who is due for no service (the win-back owns due clients, whatever
    their exclusions). Several such services: the soonest expected visit, then the most recent last visit, then
    the lowest service id. The cycle is the win-back's: the client's last visit of any service. -#}
with intervals as (
    select * from {{ ref('int_intervals_chosen') }}
),

outlook as (
    select * from {{ ref('int_return_outlook') }}
),

due as (
    select * from {{ ref('int_due_candidates') }}
),

companies as (
    select * from {{ ref('int_companies_as_of') }}
),

measured as (
    select
        intervals.company_id,
        intervals.client_id,
        intervals.service_id,
        intervals.category,
        intervals.last_visit_date,
        intervals.interval_days,
        intervals.interval_level,
        intervals.interval_count,
        cast(outlook.expected_next_visit_date as date) as expected_next_visit_date,
        companies.as_of_date,
        companies.as_of_at,
        {{ days_between('intervals.last_visit_date', 'companies.as_of_date') }} as days_since,
        {{ days_between('companies.as_of_date', 'cast(outlook.expected_next_visit_date as date)') }}
            as days_to_expected_visit
    from intervals
    inner join companies
        on companies.company_id = intervals.company_id
    inner join outlook
        on outlook.company_id = intervals.company_id
        and outlook.client_id = intervals.client_id
        and outlook.service_id = intervals.service_id
),

in_window as (
    select *
    from measured
    where days_to_expected_visit >= 1
        and days_to_expected_visit <= {{ var('rebook_lead_days') }}
        and days_since < interval_days
        and not exists (
            select 1
            from due
            where due.company_id = measured.company_id
                and due.client_id = measured.client_id
        )
),

-- the cycle of the few clients in the window only: a window over every key (2.07 M at 10 M rows) sorted them all
cycles as (
    select
        intervals.company_id,
        intervals.client_id,
        max(intervals.last_visit_date) as cycle_id
    from intervals
    where exists (
        select 1
        from in_window
        where in_window.company_id = intervals.company_id
            and in_window.client_id = intervals.client_id
    )
    group by intervals.company_id, intervals.client_id
),

ranked as (
    select
        in_window.*,
        cycles.cycle_id,
        row_number() over (
            partition by in_window.company_id, in_window.client_id
            order by in_window.expected_next_visit_date, in_window.last_visit_date desc, in_window.service_id
        ) as rebook_rank
    from in_window
    inner join cycles
        on cycles.company_id = in_window.company_id
        and cycles.client_id = in_window.client_id
),

final as (
    select
        company_id,
        client_id,
        service_id,
        category,
        last_visit_date,
        interval_days,
        interval_level,
        interval_count,
        days_since,
        cast(days_since as double precision) / interval_days as overdue_ratio,
        expected_next_visit_date,
        days_to_expected_visit,
        cycle_id,
        as_of_date,
        as_of_at
    from ranked
    where rebook_rank = 1
)

select * from final
