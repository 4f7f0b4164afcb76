{#- One row per company and record of a known client: when it was booked, whether it is still on, and the
    revenue it brought (attended only). Outcomes credit these bookings to messages. -#}
with appointments as (
    select * from {{ ref('appointments_cache') }}
),

final as (
    select
        company_id,
        record_id,
        client_id,
        min(created_at) as booked_at,
        min(visit_at) as visit_at,
        min(visit_date) as visit_date,
        max(attendance) as attendance,
        bool_or(is_deleted) as is_deleted,
        sum(case when attendance = 1 and not is_deleted then cost else 0 end) as attended_revenue
    from appointments
    group by company_id, record_id, client_id
)

select * from final
