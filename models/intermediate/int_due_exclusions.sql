{#- One row per due client and reason they are left out. One CTE per reason, named as the reason; `reasons` unions
    exactly the var `exclusion_reasons` (the list the funnel, the data tests and the report read), so a reason
    listed without its CTE fails to compile and a CTE not listed is never applied. -#}
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
),

-- attempts: what went out or is about to (a rejected or review-expired proposal is no attempt)
attempt_messages as (
    select * from messages
    where status in ('pending', 'sent', 'suppressed')
),

-- cooldown: attempts, plus proposals awaiting review (not twice) and rejections (a person chose not to write now)
cooldown_messages as (
    select * from messages
    where status in ('pending', 'sent', 'suppressed', 'awaiting_review', 'rejected')
),

{#- the reasons every campaign shares: macros/contact_exclusion.sql (int_rebook_exclusions applies them too) #}
future_booking as ({{ contact_exclusion('future_booking') }}
),

opted_out as ({{ contact_exclusion('opted_out') }}
),

client_deleted as ({{ contact_exclusion('client_deleted') }}
),

invalid_phone as ({{ contact_exclusion('invalid_phone') }}
),

cooldown as (
    select candidates.company_id, candidates.client_id
    from candidates
    where exists (
        select 1
        from cooldown_messages as messages
        where messages.company_id = candidates.company_id
            and messages.client_id = candidates.client_id
            and messages.contacted_at >= candidates.as_of_at - interval '{{ var("cooldown_days") }} days'
    )
),

max_attempts as ({{ attempts_exclusion('attempt_messages', var('max_attempts_per_cycle')) }}
),

reasons as ({{ exclusion_reasons_union(var('exclusion_reasons')) }}
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
