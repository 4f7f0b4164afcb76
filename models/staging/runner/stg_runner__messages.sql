{#- One plain select, no CTEs: PostgreSQL cannot merge a view holding a WITH clause into the query that
    reads it, so the models' joins and batch filters could not reach the raw table's indexes. -#}
select
    ---------- ids
    message_key,
    company_id,
    client_id,
    cycle_id,
    attempt,
    service_id,
    ---------- strings
    -- rows queued before the rebook campaign existed were all win-back messages
    coalesce(campaign, 'win_back') as campaign,
    status,
    cancel_reason,
    tone,
    interval_level,
    variant,
    channel,
    composer,
    predicted_segment,
    ---------- booleans
    is_holdout,
    ---------- timestamps
    as_of_date,
    scheduled_at,
    created_at,
    sent_at,
    reviewed_at,
    -- review mode: a rejection counts from the decision, like a send (pending approved rows too, until sent)
    coalesce(sent_at, reviewed_at, created_at) as contacted_at,
    -- the moment the experiment counts from: sent for a treated message; queued for a holdout row and for a
    -- treated one cancelled at send time (a booking, an opt-out), so both arms keep such clients (intention to treat);
    -- likewise queued for a treated one a reviewer rejected or nobody reviewed in time (review mode)
    case
        when is_holdout or status in ('cancelled', 'rejected', 'review_expired') then created_at
        when status = 'sent' then sent_at
    end as exposed_at
from {{ source('runner', 'reactivation_messages') }} as source
