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

{%- set changed = 'changed_keys' if is_incremental() else none %}

visit_summary as (
    {{ visit_summary(visits='visits', keys=changed) }}
),

interval_summary as (
    {{ valid_interval_summary(intervals='intervals', keys=changed) }}
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
        coalesce(interval_summary.valid_interval_sum_days, 0) as valid_interval_sum_days,
        coalesce(interval_summary.valid_interval_square_sum, 0) as valid_interval_square_sum,
        visit_summary.batch_id
    from visit_summary
    left join interval_summary
        on interval_summary.company_id = visit_summary.company_id
        and interval_summary.client_id = visit_summary.client_id
        and interval_summary.service_id = visit_summary.service_id
)

select *{{ key_bucket_column('client_id') }} from final
