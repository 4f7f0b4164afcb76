{#- One row per company and service with valid intervals before the as-of date: how many, from how many
    clients, and their median. The median is read off a histogram of interval days (a few hundred rows per
    service) instead of sorting every interval: the same value as percentile_cont(0.5), at a hash
    aggregation's cost. -#}
with intervals as (
    select * from {{ ref('int_visit_intervals') }}
),

personal as (
    select * from {{ ref('int_intervals_personal') }}
),

companies as (
    select * from {{ ref('int_companies_as_of') }}
),

histogram as (
    select
        intervals.company_id,
        intervals.service_id,
        intervals.interval_days,
        count(*) as interval_count
    from intervals
    inner join companies
        on companies.company_id = intervals.company_id
    where intervals.is_valid
        and intervals.visit_date < companies.as_of_date
    group by intervals.company_id, intervals.service_id, intervals.interval_days
),

cumulative as (
    select
        *,
        sum(interval_count) over (
            partition by company_id, service_id
            order by interval_days
            rows between unbounded preceding and current row
        ) as running_count,
        sum(interval_count) over (partition by company_id, service_id) as total_count
    from histogram
),

-- the median is the mean of the values at positions floor((n+1)/2) and floor(n/2)+1 (one position when n is odd)
middle as (
    select
        company_id,
        service_id,
        avg(cast(interval_days as double precision)) as median_interval_days
    from cumulative
    where (running_count - interval_count < floor((total_count + 1) / 2.0) and floor((total_count + 1) / 2.0) <= running_count)
        or (running_count - interval_count < floor(total_count / 2.0) + 1 and floor(total_count / 2.0) + 1 <= running_count)
    group by company_id, service_id
),

counts as (
    select
        company_id,
        service_id,
        sum(valid_interval_count) as valid_interval_count,
        count(*) as client_count
    from personal
    where valid_interval_count > 0
    group by company_id, service_id
),

final as (
    select
        counts.company_id,
        counts.service_id,
        counts.valid_interval_count,
        counts.client_count,
        middle.median_interval_days
    from counts
    inner join middle
        on middle.company_id = counts.company_id
        and middle.service_id = counts.service_id
)

select * from final
