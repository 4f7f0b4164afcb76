{#- One row per visit after a client's first visit for a service (any date): days since the previous visit,
    and whether that interval is plausible enough to learn from. Incremental per key, like int_visits. -#}
{{ per_visit_key_incremental_config() }}

with visits as (
    select * from {{ ref('int_visits') }}
),

{% if is_incremental() %}
changed_keys as (
    {{ changed_visit_keys() }}
),

changed_visits as (
    select visits.*
    from visits
    inner join changed_keys
        on changed_keys.company_id = visits.company_id
        and changed_keys.client_id = visits.client_id
        and changed_keys.service_id = visits.service_id
),
{% else %}
changed_visits as (
    select * from visits
),
{% endif %}

with_previous as (
    select
        company_id,
        client_id,
        service_id,
        visit_date,
        lag(visit_date) over (
            partition by company_id, client_id, service_id
            order by visit_date
        ) as previous_visit_date,
        batch_id
    from changed_visits
),

final as (
    select
        company_id,
        client_id,
        service_id,
        visit_date,
        previous_visit_date,
        {{ days_between('previous_visit_date', 'visit_date') }} as interval_days,
        {{ days_between('previous_visit_date', 'visit_date') }}
            between {{ var('interval_min_days') }} and {{ var('interval_max_days') }} as is_valid,
        batch_id
    from with_previous
    where previous_visit_date is not null
)

select *{{ key_bucket_column('client_id') }} from final
