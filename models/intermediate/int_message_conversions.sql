{#- One row per outbox message, treated or holdout, with the bookings credited to it: a new non-deleted booking
    created after its exposure within `attribution_days`. A booking inside the windows of several messages is
    credited once, to the latest message before it. -#}
with messages as (
    select * from {{ ref('stg_runner__messages') }}
),

bookings as (
    select * from {{ ref('int_bookings') }}
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
        messages.campaign,
        messages.status,
        messages.is_holdout,
        messages.tone,
        messages.interval_level,
        messages.variant,
        messages.channel,
        messages.composer,
        messages.predicted_segment,
        messages.as_of_date,
        messages.cancel_reason,
        messages.exposed_at,
        coalesce(per_message.credited_bookings, 0) as credited_bookings,
        coalesce(per_message.attended_revenue, 0) as attended_revenue,
        per_message.converting_record_id,
        per_message.converting_booked_at
    from messages
    left join per_message
        on per_message.message_key = messages.message_key
)

select * from final
