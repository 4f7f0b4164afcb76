{#- One row per company and client the outbox has contacted (any campaign): the last contact and whether it falls
    within `min_days_between_messages` (7) days before the as-of moment, the cross-campaign frequency cap that
    message_candidates and int_rebook_exclusions apply (the outbox checks it again at the moment of sending).
    A contact is what starts the win-back's cooldown too: a row pending, sent, held out (suppressed), waiting for
    a reviewer or rejected by one, dated by `contacted_at`. -#}
with messages as (
    select * from {{ ref('stg_runner__messages') }}
    where status in ('pending', 'sent', 'suppressed', 'awaiting_review', 'rejected')
),

companies as (
    select * from {{ ref('int_companies_as_of') }}
),

last_contacts as (
    select
        company_id,
        client_id,
        max(contacted_at) as last_contacted_at
    from messages
    group by company_id, client_id
),

final as (
    select
        last_contacts.company_id,
        last_contacts.client_id,
        last_contacts.last_contacted_at,
        last_contacts.last_contacted_at
            >= companies.as_of_at - interval '{{ var("min_days_between_messages") }} days' as is_within_frequency_cap
    from last_contacts
    inner join companies
        on companies.company_id = last_contacts.company_id
)

select * from final
