{#- One row per company, client and service with a visit before the as-of date: the return outlook.

    A table, rebuilt each run: one grouped pass over the valid intervals before the as-of date (incremental
    would need int_intervals_personal's straddle logic again for the mean and variance; not worth it yet).
    - shape k (Erlang regularity): the client's squared coefficient of variation cv² of valid intervals, shrunk
      toward the pool of their company and service: cv² = (n·cv²_client + n0·cv²_pool) / (n + n0) with
      n0 = `outlook_prior_intervals`, when n ≥ `outlook_min_intervals`; else cv²_pool. The pool is the
      within-client cv² of every client of the company and service with ≥ 2 valid intervals (weights n - 1), then
      of the company, then 1 / `outlook_default_shape`. k = 1 / cv², clipped to [1, 30], rounded half up.
    - the time to the next visit is Erlang(k) with mean = the chosen interval (rate k / interval);
    - p_active: after each visit the client stops coming with a per-visit probability p (`outlook_dropout` seed,
      fitted per company by `python -m reactivation.outlook`), independent of their rhythm. -#}
with chosen as (
    select * from {{ ref('int_intervals_chosen') }}
),

intervals as (
    select * from {{ ref('int_visit_intervals') }}
),

companies as (
    select * from {{ ref('int_companies_as_of') }}
),

dropout as (
    select * from {{ ref('outlook_dropout') }}
),

client_moments as (
    select
        intervals.company_id,
        intervals.client_id,
        intervals.service_id,
        count(*) as valid_interval_count,
        avg(cast(intervals.interval_days as double precision)) as mean_interval_days,
        var_samp(cast(intervals.interval_days as double precision)) as interval_variance
    from intervals
    inner join companies
        on companies.company_id = intervals.company_id
    where intervals.is_valid
        and intervals.visit_date < companies.as_of_date
    group by intervals.company_id, intervals.client_id, intervals.service_id
),

client_cv2 as (
    select
        *,
        interval_variance / (mean_interval_days * mean_interval_days) as client_cv2
    from client_moments
    where valid_interval_count >= 2
),

service_pool as (
    select
        company_id,
        service_id,
        sum((valid_interval_count - 1) * client_cv2) / sum(valid_interval_count - 1) as pool_cv2
    from client_cv2
    group by company_id, service_id
),

company_pool as (
    select
        company_id,
        sum((valid_interval_count - 1) * client_cv2) / sum(valid_interval_count - 1) as pool_cv2
    from client_cv2
    group by company_id
),

default_dropout as (
    select max(dropout_probability) as dropout_probability
    from dropout
    where company_id is null
),

regularity as (
    select
        chosen.company_id,
        chosen.client_id,
        chosen.service_id,
        chosen.last_visit_date,
        chosen.interval_days,
        companies.as_of_date,
        coalesce(client_cv2.valid_interval_count, 0) as valid_interval_count,
        client_cv2.client_cv2,
        coalesce(
            service_pool.pool_cv2, company_pool.pool_cv2, 1.0 / {{ var('outlook_default_shape') }}
        ) as pool_cv2,
        coalesce(dropout.dropout_probability, default_dropout.dropout_probability) as dropout_probability
    from chosen
    inner join companies
        on companies.company_id = chosen.company_id
    left join client_cv2
        on client_cv2.company_id = chosen.company_id
        and client_cv2.client_id = chosen.client_id
        and client_cv2.service_id = chosen.service_id
    left join service_pool
        on service_pool.company_id = chosen.company_id
        and service_pool.service_id = chosen.service_id
    left join company_pool
        on company_pool.company_id = chosen.company_id
    left join dropout
        on dropout.company_id = chosen.company_id
    cross join default_dropout
),

shrunk as (
    select
        *,
        case
            when valid_interval_count >= {{ var('outlook_min_intervals') }}
                then (valid_interval_count * client_cv2 + {{ var('outlook_prior_intervals') }} * pool_cv2)
                    / (valid_interval_count + {{ var('outlook_prior_intervals') }})
            else pool_cv2
        end as shrunk_cv2
    from regularity
),

shaped as (
    select
        *,
        case
            when shrunk_cv2 * {{ erlang_max_shape() }} <= 1 then {{ erlang_max_shape() }}
            else least(greatest({{ round_half_up('1.0 / shrunk_cv2') }}, 1), {{ erlang_max_shape() }})
        end as regularity_shape,
        {{ days_between('last_visit_date', 'as_of_date') }} as days_since
    from shrunk
),

scaled as (
    select
        *,
        cast(regularity_shape as double precision) * days_since / interval_days as rate_times_days,
        cast(regularity_shape as double precision) * (days_since + {{ var('outlook_horizon_days') }})
            / interval_days as rate_times_horizon
    from shaped
),

survival as (
    select
        *,
        {{ erlang_survival('regularity_shape', 'rate_times_days') }} as p_not_returned_yet,
        {{ erlang_survival_ratio('regularity_shape', 'rate_times_days', 'rate_times_horizon') }}
            as p_no_return_in_horizon
    from scaled
),

activity as (
    select
        *,
        {{ outlook_p_active('dropout_probability', 'p_not_returned_yet') }} as p_active
    from survival
),

final as (
    select
        company_id,
        client_id,
        service_id,
        valid_interval_count,
        client_cv2,
        pool_cv2,
        shrunk_cv2,
        regularity_shape,
        dropout_probability,
        days_since,
        {{ dbt.dateadd('day', 'interval_days', 'last_visit_date') }} as expected_next_visit_date,
        p_not_returned_yet,
        p_active,
        p_active * p_no_return_in_horizon as p_winback_needed,
        case
            when p_active * p_no_return_in_horizon < {{ var('predicted_segment_bounds')[0] }} then 'low'
            when p_active * p_no_return_in_horizon < {{ var('predicted_segment_bounds')[1] }} then 'medium'
            else 'high'
        end as predicted_segment
    from activity
)

select * from final
