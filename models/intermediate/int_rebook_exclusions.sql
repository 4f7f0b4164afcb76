{#- One row per rebook candidate and reason they are left out, one CTE per reason in `rebook_exclusion_reasons`
    (unioned exactly as listed, like int_due_exclusions). The reasons both campaigns share (a booking ahead, an
    opt-out, a deleted card, an invalid phone) are the same rule as the win-back's: macros/contact_exclusion.sql.
    The rebook's own: `frequency_cap` (any message within `min_days_between_messages` days, any campaign) and
    `max_attempts` (`rebook_max_attempts_per_cycle` rebook reminders already in the cycle, holdout included). -#}
{{ config(indexes=postgres_indexes([{'columns': ['company_id', 'client_id']}])) }}

with candidates as (
    select * from {{ ref('int_rebook_candidates') }}
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

last_contacts as (
    select * from {{ ref('int_client_last_contacts') }}
),

-- rebook attempts: what went out or is about to, as for the win-back's attempts
rebook_messages as (
    select * from {{ ref('stg_runner__messages') }}
    where campaign = 'rebook'
        and status in ('pending', 'sent', 'suppressed')
),

future_booking as ({{ contact_exclusion('future_booking') }}
),

opted_out as ({{ contact_exclusion('opted_out') }}
),

client_deleted as ({{ contact_exclusion('client_deleted') }}
),

invalid_phone as ({{ contact_exclusion('invalid_phone') }}
),

frequency_cap as (
    select candidates.company_id, candidates.client_id
    from candidates
    inner join last_contacts
        on last_contacts.company_id = candidates.company_id
        and last_contacts.client_id = candidates.client_id
    where last_contacts.is_within_frequency_cap
),

max_attempts as ({{ attempts_exclusion('rebook_messages', var('rebook_max_attempts_per_cycle')) }}
),

reasons as ({{ exclusion_reasons_union(var('rebook_exclusion_reasons')) }}
),

final as (
    select
        reasons.company_id,
        reasons.client_id,
        candidates.service_id,
        reasons.reason,
        candidates.as_of_date
    from reasons
    inner join candidates
        on candidates.company_id = reasons.company_id
        and candidates.client_id = reasons.client_id
)

select * from final
