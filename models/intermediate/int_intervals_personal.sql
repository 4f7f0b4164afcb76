{#- One row per company, client and service with at least one visit before the as-of date: the visit history
    summary and the median of the client's own valid intervals up to that date.

    A pass over one row per key: keys whose whole history lies before the as-of date take int_visit_history
    as it is; only keys with visits on or after it (today's visits in a daily run, more when a past date is
    replayed) are summarised again from their visits before the date. -#}
with history as (
    select * from {{ ref('int_visit_history') }}
),

visits as (
    select * from {{ ref('int_visits') }}
),

intervals as (
    select * from {{ ref('int_visit_intervals') }}
),

companies as (
    select * from {{ ref('int_companies_as_of') }}
),

settled as (
    select
        history.company_id,
        history.client_id,
        history.service_id,
        history.visit_count,
        history.first_visit_date,
        history.last_visit_date,
        history.valid_interval_count,
        history.median_interval_days,
        history.valid_interval_sum_days,
        history.valid_interval_square_sum
    from history
    inner join companies
        on companies.company_id = history.company_id
    where history.last_visit_date < companies.as_of_date
),

straddling as (
    select history.company_id, history.client_id, history.service_id, companies.as_of_date
    from history
    inner join companies
        on companies.company_id = history.company_id
    where history.first_visit_date < companies.as_of_date
        and history.last_visit_date >= companies.as_of_date
),

straddling_visits as (
    {{ visit_summary(visits='visits', keys='straddling', before='as_of_date') }}
),

straddling_intervals as (
    {{ valid_interval_summary(intervals='intervals', keys='straddling', before='as_of_date') }}
),

cut_at_as_of as (
    select
        straddling_visits.company_id,
        straddling_visits.client_id,
        straddling_visits.service_id,
        straddling_visits.visit_count,
        straddling_visits.first_visit_date,
        straddling_visits.last_visit_date,
        coalesce(straddling_intervals.valid_interval_count, 0) as valid_interval_count,
        straddling_intervals.median_interval_days,
        coalesce(straddling_intervals.valid_interval_sum_days, 0) as valid_interval_sum_days,
        coalesce(straddling_intervals.valid_interval_square_sum, 0) as valid_interval_square_sum
    from straddling_visits
    left join straddling_intervals
        on straddling_intervals.company_id = straddling_visits.company_id
        and straddling_intervals.client_id = straddling_visits.client_id
        and straddling_intervals.service_id = straddling_visits.service_id
),

final as (
    select * from settled
    union all
    select * from cut_at_as_of
)

select * from final
