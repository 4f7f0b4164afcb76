{#- One row per outbox message, treated or holdout: whether it converted (a new non-deleted booking created after
    it within `attribution_days`), the booking that did, days to booking and attended revenue. A booking inside
    the windows of several messages is credited once, to the latest message before it. -#}
with messages as (
    select * from {{ ref('stg_runner__messages') }}
),

bookings as (
    select * from {{ ref('int_bookings') }}
),

companies as (
    select * from {{ ref('int_companies_as_of') }}
),

exposed as (
    -- exposed_at (staging): sent, or queued for a holdout row and for a treated row cancelled at send time
    select * from messages
    where messages.exposed_at is not null
),

in_window as (
    select
        exposed.message_key,
        exposed.company_id,
        exposed.client_id,
        exposed.exposed_at,
        bookings.record_id,
        bookings.booked_at,
        bookings.attendance,
        bookings.attended_revenue,
        row_number() over (
            partition by bookings.company_id, bookings.record_id
            order by exposed.exposed_at desc, exposed.message_key desc
        ) as credit_rank
    from exposed
    inner join bookings
        on bookings.company_id = exposed.company_id
        and bookings.client_id = exposed.client_id
        and bookings.booked_at > exposed.exposed_at
        and bookings.booked_at <= exposed.exposed_at + interval '{{ var("attribution_days") }} days'
        and not bookings.is_deleted
),

credited as (
    select
        *,
        row_number() over (partition by message_key order by booked_at, record_id) as booking_rank
    from in_window
    where credit_rank = 1
),

per_message as (
    select
        message_key,
        count(*) as credited_bookings,
        sum(attended_revenue) as attended_revenue,
        min(case when booking_rank = 1 then record_id end) as converting_record_id,
        min(booked_at) as converting_booked_at
    from credited
    group by message_key
),

final as (
    select
        messages.message_key,
        messages.company_id,
        messages.client_id,
        messages.cycle_id,
        messages.attempt,
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
        coalesce(per_message.credited_bookings, 0) > 0 as is_converted,
        per_message.converting_record_id,
        per_message.converting_booked_at,
        {{ days_between(
            local_date("messages.exposed_at", "companies.timezone"),
            local_date("per_message.converting_booked_at", "companies.timezone")
        ) }} as days_to_booking,
        coalesce(per_message.credited_bookings, 0) as credited_bookings,
        cast(coalesce(per_message.attended_revenue, 0) as double precision) as attended_revenue,
        {{ var('attribution_days') }} as attribution_days,
        coalesce(
            {{ days_between(local_date("messages.exposed_at", "companies.timezone"), "companies.as_of_date") }}
                >= {{ var('attribution_days') }},
            false
        ) as is_window_complete
    from messages
    inner join companies
        on companies.company_id = messages.company_id
    left join per_message
        on per_message.message_key = messages.message_key
)

select * from final
