{{ config(indexes=postgres_indexes([{'columns': ['company_id', 'client_id']}])) }}

with candidates as (
    select * from {{ ref('int_due_candidates') }}
),

contacts as (
    select * from {{ ref('int_client_contacts') }}
),

bookings_ahead as (
    select * from {{ ref('int_client_bookings_ahead') }}
),

opt_outs as (
    select * from {{ ref('stg_runner__opt_outs') }}
    where is_active
),

messages as (
    select * from {{ ref('stg_runner__messages') }}
    where status in ('pending', 'sent', 'suppressed')
),

future_booking as (
    select candidates.company_id, candidates.client_id, 'future_booking' as reason
    from candidates
    inner join bookings_ahead
        on bookings_ahead.company_id = candidates.company_id
        and bookings_ahead.client_id = candidates.client_id
),

opted_out as (
    select candidates.company_id, candidates.client_id, 'opted_out' as reason
    from candidates
    left join contacts
        on contacts.company_id = candidates.company_id
        and contacts.client_id = candidates.client_id
    where coalesce(contacts.has_sms_opt_out, false)
        or exists (
            select 1
            from opt_outs
            where opt_outs.company_id = candidates.company_id
                and (
                    opt_outs.client_id = candidates.client_id
                    or (contacts.has_valid_phone and '+' || opt_outs.phone = contacts.phone)
                )
        )
),

client_deleted as (
    select candidates.company_id, candidates.client_id, 'client_deleted' as reason
    from candidates
    inner join contacts
        on contacts.company_id = candidates.company_id
        and contacts.client_id = candidates.client_id
    where contacts.is_deleted
),

invalid_phone as (
    select candidates.company_id, candidates.client_id, 'invalid_phone' as reason
    from candidates
    left join contacts
        on contacts.company_id = candidates.company_id
        and contacts.client_id = candidates.client_id
    where not coalesce(contacts.has_valid_phone, false)
),

cooldown as (
    select candidates.company_id, candidates.client_id, 'cooldown' as reason
    from candidates
    where exists (
        select 1
        from messages
        where messages.company_id = candidates.company_id
            and messages.client_id = candidates.client_id
            and messages.contacted_at >= candidates.as_of_at - interval '{{ var("cooldown_days") }} days'
    )
),

max_attempts as (
    select candidates.company_id, candidates.client_id, 'max_attempts' as reason
    from candidates
    inner join messages
        on messages.company_id = candidates.company_id
        and messages.client_id = candidates.client_id
        and messages.cycle_id = candidates.cycle_id
    group by candidates.company_id, candidates.client_id
    having count(*) >= {{ var('max_attempts_per_cycle') }}
),

reasons as (
    select * from future_booking
    union all
    select * from opted_out
    union all
    select * from client_deleted
    union all
    select * from invalid_phone
    union all
    select * from cooldown
    union all
    select * from max_attempts
),

final as (
    select
        reasons.company_id,
        reasons.client_id,
        candidates.service_id,
        reasons.reason,
        candidates.tone,
        candidates.interval_level,
        candidates.as_of_date
    from reasons
    inner join candidates
        on candidates.company_id = reasons.company_id
        and candidates.client_id = reasons.client_id
)

select * from final
