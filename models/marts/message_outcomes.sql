{#- One row per outbox message, treated or holdout: whether it converted (a new non-deleted booking created after
    it within `attribution_days`), the booking that did, days to booking and attended revenue. The credit (a
    booking inside the windows of several messages goes to the latest message before it) is `int_message_conversions`. -#}
with messages as (
    select * from {{ ref('int_message_conversions') }}
),

companies as (
    select * from {{ ref('int_companies_as_of') }}
),

final as (
    select
        messages.message_key,
        messages.company_id,
        messages.client_id,
        messages.cycle_id,
        messages.attempt,
        messages.campaign,
        messages.status,
        messages.is_holdout,
        case when messages.is_holdout then 'holdout' else 'treated' end as experiment_group,
        messages.tone,
        messages.interval_level,
        messages.variant,
        messages.channel,
        messages.composer,
        messages.predicted_segment,
        messages.as_of_date,
        messages.cancel_reason,
        messages.exposed_at,
        {{ local_date("messages.exposed_at", "companies.timezone") }} as exposed_date,
        messages.exposed_at is not null as is_exposed,
        messages.credited_bookings > 0 as is_converted,
        messages.converting_record_id,
        messages.converting_booked_at,
        {{ days_between(
            local_date("messages.exposed_at", "companies.timezone"),
            local_date("messages.converting_booked_at", "companies.timezone")
        ) }} as days_to_booking,
        messages.credited_bookings,
        cast(messages.attended_revenue as double precision) as attended_revenue,
        {{ var('attribution_days') }} as attribution_days,
        coalesce(
            {{ days_between(local_date("messages.exposed_at", "companies.timezone"), "companies.as_of_date") }}
                >= {{ var('attribution_days') }},
            false
        ) as is_window_complete
    from messages
    inner join companies
        on companies.company_id = messages.company_id
)

select * from final
