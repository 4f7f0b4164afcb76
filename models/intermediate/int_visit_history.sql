{#- One row per company, client and service with at least one visit (any date): the visit history summary
    and the median of the client's own valid intervals. Incremental per key, like int_visits; the run's
    as-of cut is applied in int_intervals_personal. -#}
{{ per_visit_key_incremental_config() }}

with visits as (
    select * from {{ ref('int_visits') }}
),

intervals as (
    select * from {{ ref('int_visit_intervals') }}
),

{% if is_incremental() %}
changed_keys as (
    {{ changed_visit_keys() }}
),
{% endif %}

visit_summary as (
    select
        visits.company_id,
        visits.client_id,
        visits.service_id,
        count(*) as visit_count,
        min(visits.visit_date) as first_visit_date,
        max(visits.visit_date) as last_visit_date,
        max(visits.batch_id) as batch_id
    from visits
    {% if is_incremental() %}
    inner join changed_keys
        on changed_keys.company_id = visits.company_id
        and changed_keys.client_id = visits.client_id
        and changed_keys.service_id = visits.service_id
    {% endif %}
    group by visits.company_id, visits.client_id, visits.service_id
),

interval_summary as (
    select
        intervals.company_id,
        intervals.client_id,
        intervals.service_id,
        count(*) as valid_interval_count,
        {{ median('intervals.interval_days') }} as median_interval_days
    from intervals
    {% if is_incremental() %}
    inner join changed_keys
        on changed_keys.company_id = intervals.company_id
        and changed_keys.client_id = intervals.client_id
        and changed_keys.service_id = intervals.service_id
    {% endif %}
    where intervals.is_valid
    group by intervals.company_id, intervals.client_id, intervals.service_id
),

final as (
    select
        visit_summary.company_id,
        visit_summary.client_id,
        visit_summary.service_id,
        visit_summary.visit_count,
        visit_summary.first_visit_date,
        visit_summary.last_visit_date,
        coalesce(interval_summary.valid_interval_count, 0) as valid_interval_count,
        interval_summary.median_interval_days,
        visit_summary.batch_id
    from visit_summary
    left join interval_summary
        on interval_summary.company_id = visit_summary.company_id
        and interval_summary.client_id = visit_summary.client_id
        and interval_summary.service_id = visit_summary.service_id
)

select * from final
