{#- One row per company and client who is due for at least one service: the service with the highest overdue
    ratio (ties: the most recent last visit, then the lowest service id), its tone and the client's cycle. -#}
with intervals as (
    select * from {{ ref('int_intervals_chosen') }}
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
        companies.as_of_date,
        companies.as_of_at,
        {{ days_between('intervals.last_visit_date', 'companies.as_of_date') }} as days_since,
        -- the cycle: time since the client's last visit of any service; its id is that visit's date
        max(intervals.last_visit_date) over (
            partition by intervals.company_id, intervals.client_id
        ) as cycle_id
    from intervals
    inner join companies
        on companies.company_id = intervals.company_id
),

due as (
    select
        *,
        cast(days_since as double precision) / interval_days as overdue_ratio,
        -- tone thresholds compared in integers (ratio < 1.5 ⇔ 2·days < 3·interval), so 1.5 and 3.0 are exact
        case
            when days_since * 10 < {{ (var('gentle_max_ratio') * 10) | int }} * interval_days then 'gentle'
            when days_since * 10 < {{ (var('offer_max_ratio') * 10) | int }} * interval_days then 'offer'
            else 'win_back'
        end as tone
    from measured
    where days_since >= interval_days
        and days_since <= {{ var('lost_after_days') }}
),

ranked as (
    select
        *,
        row_number() over (
            partition by company_id, client_id
            order by overdue_ratio desc, last_visit_date desc, service_id
        ) as due_rank
    from due
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
        overdue_ratio,
        tone,
        cycle_id,
        as_of_date,
        as_of_at
    from ranked
    where due_rank = 1
)

select * from final
