{#- One row per company, client and service with a visit before the as-of date: the return outlook.

    A table, rebuilt each run from one row per key: each key's interval moments (count, sum, sum of squares of
    its valid intervals before the as-of date) come carried in int_intervals_personal, so no interval is read
    here; the per-service and per-company pools aggregate those rows.
    - shape k (Erlang regularity): the client's squared coefficient of variation cv² of valid intervals, shrunk
      toward the pool of their company and service: cv² = (n·cv²_client + n0·cv²_pool) / (n + n0) with
      n0 = `outlook_prior_intervals`, when n ≥ `outlook_min_intervals`; else cv²_pool. The pool is the
      within-client cv² of every client of the company and service with ≥ 2 valid intervals (weights n - 1), then
      of the company, then 1 / `outlook_default_shape`. k = 1 / cv², clipped to [1, 30], rounded half up.
    - an active client's gaps are Erlang(k, λ) and λ is uncertain: Gamma(r, r·m0 / k) before their own intervals
      (m0 the mean valid interval of the company and service when it has `service_min_intervals` from
      `service_min_clients` clients, else the chosen interval), Gamma(a, β) = Gamma(r + k·n, r·m0 / k + Σ intervals)
      after. The time to the next visit then has the negative-binomial survival S̃(t) (macros/return_outlook.sql):
      few or scattered intervals give a wide outlook, a long clockwork history an Erlang around its mean.
    - p_active: a client stops coming at a constant rate μ per day, independent of their rhythm.
    r and μ come from the `outlook_dropout` seed (per company, else its default row), fitted jointly by maximum
    likelihood by `python -m reactivation.outlook`. -#}
with chosen as (
    select * from {{ ref('int_intervals_chosen') }}
),

personal as (
    select * from {{ ref('int_intervals_personal') }}
),

companies as (
    select * from {{ ref('int_companies_as_of') }}
),

dropout as (
    select * from {{ ref('outlook_dropout') }}
),

-- each key's valid intervals before the as-of date, as int_intervals_personal carries them (count, exact sums):
-- the mean, and the sample variance from the exact integer n·Σx² - (Σx)² (no cancellation, no summation order)
client_moments as (
    select
        company_id,
        client_id,
        service_id,
        valid_interval_count,
        cast(valid_interval_sum_days as double precision) as interval_sum_days,
        cast(valid_interval_sum_days as double precision) / valid_interval_count as mean_interval_days,
        case
            when valid_interval_count >= 2
                then cast(
                    valid_interval_count * valid_interval_square_sum - valid_interval_sum_days * valid_interval_sum_days
                    as double precision
                ) / (cast(valid_interval_count as double precision) * (valid_interval_count - 1))
        end as interval_variance
    from personal
    where valid_interval_count > 0
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

service_means as (
    select
        company_id,
        service_id,
        sum(interval_sum_days) / sum(valid_interval_count) as service_mean_days
    from client_moments
    group by company_id, service_id
    having sum(valid_interval_count) >= {{ var('service_min_intervals') }}
        and count(*) >= {{ var('service_min_clients') }}
),

company_pool as (
    select
        company_id,
        sum((valid_interval_count - 1) * client_cv2) / sum(valid_interval_count - 1) as pool_cv2
    from client_cv2
    group by company_id
),

default_dropout as (
    select
        max(rate_prior_shape) as rate_prior_shape,
        max(dropout_rate_per_day) as dropout_rate_per_day
    from dropout
    where company_id is null
),

regularity as (
    select
        chosen.company_id,
        chosen.client_id,
        chosen.service_id,
        chosen.first_visit_date,
        chosen.last_visit_date,
        chosen.interval_days,
        companies.as_of_date,
        coalesce(client_moments.valid_interval_count, 0) as valid_interval_count,
        coalesce(client_moments.interval_sum_days, 0) as interval_sum_days,
        client_cv2.client_cv2,
        coalesce(service_means.service_mean_days, chosen.interval_days) as prior_mean_days,
        coalesce(
            service_pool.pool_cv2, company_pool.pool_cv2, 1.0 / {{ var('outlook_default_shape') }}
        ) as pool_cv2,
        coalesce(dropout.rate_prior_shape, default_dropout.rate_prior_shape) as rate_prior_shape,
        coalesce(dropout.dropout_rate_per_day, default_dropout.dropout_rate_per_day) as dropout_rate_per_day
    from chosen
    inner join companies
        on companies.company_id = chosen.company_id
    left join client_moments
        on client_moments.company_id = chosen.company_id
        and client_moments.client_id = chosen.client_id
        and client_moments.service_id = chosen.service_id
    left join client_cv2
        on client_cv2.company_id = chosen.company_id
        and client_cv2.client_id = chosen.client_id
        and client_cv2.service_id = chosen.service_id
    left join service_pool
        on service_pool.company_id = chosen.company_id
        and service_pool.service_id = chosen.service_id
    left join service_means
        on service_means.company_id = chosen.company_id
        and service_means.service_id = chosen.service_id
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
        {{ days_between('first_visit_date', 'last_visit_date') }} as active_span_days,
        {{ days_between('last_visit_date', 'as_of_date') }} as days_since
    from shrunk
),

rate_posterior as (
    select
        *,
        rate_prior_shape + regularity_shape * valid_interval_count as rate_shape,
        rate_prior_shape * prior_mean_days / regularity_shape + interval_sum_days as rate_scale_days
    from shaped
    {{ evaluate_once() }}
),

survival as (
    select
        *,
        {{ outlook_predictive_survival('regularity_shape', 'rate_shape', 'rate_scale_days', 'days_since') }}
            as p_not_returned_yet,
        {{ outlook_predictive_survival_ratio(
            'regularity_shape', 'rate_shape', 'rate_scale_days',
            'days_since', 'days_since + ' ~ var('outlook_horizon_days')
        ) }} as p_no_return_in_horizon
    from rate_posterior
    {{ evaluate_once() }}
),

activity as (
    select
        *,
        {{ outlook_p_active(
            'regularity_shape', 'rate_shape', 'rate_scale_days', 'days_since', 'dropout_rate_per_day',
            'p_not_returned_yet'
        ) }} as p_active,
        {{ outlook_dropout_before_next_visit(
            'regularity_shape', 'rate_shape', 'rate_scale_days', 'dropout_rate_per_day'
        ) }} as dropout_probability
    from survival
    {{ evaluate_once() }}
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
        interval_sum_days,
        prior_mean_days,
        rate_prior_shape,
        rate_shape,
        rate_scale_days,
        regularity_shape * rate_scale_days / rate_shape as mean_return_days,
        active_span_days,
        dropout_rate_per_day,
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
