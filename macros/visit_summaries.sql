{#- The per-key summaries of a visit history, written once for int_visit_history (every visit of a changed key) and
    int_intervals_personal (the visits of a key before the run's as-of date). `keys` names a relation or CTE of
    (company_id, client_id, service_id) to restrict to (none: every key); `before`, a column of `keys`, keeps only
    visits dated before it. One row per key. -#}

{#- Visit count, first and last visit date, and the newest batch that wrote one of the visits. -#}
{% macro visit_summary(visits, keys=none, before=none) -%}
    select
        visits.company_id,
        visits.client_id,
        visits.service_id,
        count(*) as visit_count,
        min(visits.visit_date) as first_visit_date,
        max(visits.visit_date) as last_visit_date,
        max(visits.batch_id) as batch_id
    from {{ visits }} as visits
    {{- visit_keys_join('visits', keys) }}
    {%- if before %}
    where visits.visit_date < keys.{{ before }}
    {%- endif %}
    group by visits.company_id, visits.client_id, visits.service_id
{%- endmacro %}

{#- Count and median of the valid intervals (the client's own rhythm; personal level of the waterfall), and their
    sum and sum of squares: whole numbers, exact in any order of summation, from which int_return_outlook takes
    the mean and variance without reading the intervals again (a key's moments are carried with its history). -#}
{% macro valid_interval_summary(intervals, keys=none, before=none) -%}
    select
        intervals.company_id,
        intervals.client_id,
        intervals.service_id,
        count(*) as valid_interval_count,
        {{ median('intervals.interval_days') }} as median_interval_days,
        -- cast back: the sum of a bigint is numeric on PostgreSQL and a 128-bit integer on DuckDB
        cast(sum(cast(intervals.interval_days as bigint)) as bigint) as valid_interval_sum_days,
        cast(sum(cast(intervals.interval_days as bigint) * intervals.interval_days) as bigint)
            as valid_interval_square_sum
    from {{ intervals }} as intervals
    {{- visit_keys_join('intervals', keys) }}
    where intervals.is_valid
    {%- if before %}
        and intervals.visit_date < keys.{{ before }}
    {%- endif %}
    group by intervals.company_id, intervals.client_id, intervals.service_id
{%- endmacro %}

{% macro visit_keys_join(alias, keys) -%}
    {%- if keys %}
    inner join {{ keys }} as keys
        on keys.company_id = {{ alias }}.company_id
        and keys.client_id = {{ alias }}.client_id
        and keys.service_id = {{ alias }}.service_id
    {%- endif %}
{%- endmacro %}
