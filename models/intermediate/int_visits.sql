{#- One row per company, client, service and local visit date: attended and not deleted, on any date (the
    as-of cut is applied per run in int_intervals_personal, so this history does not depend on the run date).
    Same-day duplicates collapse into one visit. Incremental per key: only keys in int_visit_key_changes
    newer than this table are recomputed, each from all its cached rows. -#}
{{ per_visit_key_incremental_config() }}

with appointments as (
    select * from {{ ref('appointments_cache') }}
),

{% if is_incremental() %}
changed_keys as (
    {{ changed_visit_keys() }}
),
{% endif %}

final as (
    select
        appointments.company_id,
        appointments.client_id,
        appointments.service_id,
        appointments.visit_date,
        max(appointments.batch_id) as batch_id
    from appointments
    {% if is_incremental() %}
    inner join changed_keys
        on changed_keys.company_id = appointments.company_id
        and changed_keys.client_id = appointments.client_id
        and changed_keys.service_id = appointments.service_id
    {% endif %}
    where appointments.attendance = 1
        and not appointments.is_deleted
    group by
        appointments.company_id,
        appointments.client_id,
        appointments.service_id,
        appointments.visit_date
)

select *{{ key_bucket_column('client_id') }} from final
