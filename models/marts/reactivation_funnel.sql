{#- One row per company and as-of date: active clients → due → excluded by reason → holdout → queued → sent →
    failed → converted. The first steps come from the daily snapshots, the rest from the outbox and outcomes.
    The message steps are the win-back's (the due clients' campaign); the rebook campaign's have `rebook_` columns. -#}
with snapshots as (
    select * from {{ ref('int_due_snapshots') }}
),

outcomes as (
    select * from {{ ref('message_outcomes') }}
),

{%- set rebook_steps = ['holdout', 'queued', 'sent', 'cancelled', 'converted', 'holdout_converted'] %}

outbox as (
    select
        company_id,
        as_of_date,
        sum(case when is_holdout then 1 else 0 end) as holdout,
        sum(case when not is_holdout then 1 else 0 end) as queued,
        sum(case when status = 'sent' then 1 else 0 end) as sent,
        sum(case when status = 'pending' then 1 else 0 end) as pending,
        sum(case when status = 'failed' then 1 else 0 end) as failed,
        sum(case when status = 'cancelled' then 1 else 0 end) as cancelled,
        sum(case when status = 'expired' then 1 else 0 end) as expired,
        sum(case when status = 'awaiting_review' then 1 else 0 end) as awaiting_review,
        sum(case when status = 'rejected' then 1 else 0 end) as rejected,
        sum(case when status = 'review_expired' then 1 else 0 end) as review_expired,
        sum(case when not is_holdout and is_converted then 1 else 0 end) as converted,
        sum(case when is_holdout and is_converted then 1 else 0 end) as holdout_converted,
        sum(case when not is_holdout then attended_revenue else 0 end) as revenue
    from outcomes
    where campaign = 'win_back'
    group by company_id, as_of_date
),

rebook as (
    select
        company_id,
        as_of_date,
        sum(case when is_holdout then 1 else 0 end) as holdout,
        sum(case when not is_holdout then 1 else 0 end) as queued,
        sum(case when status = 'sent' then 1 else 0 end) as sent,
        sum(case when status = 'cancelled' then 1 else 0 end) as cancelled,
        sum(case when not is_holdout and is_converted then 1 else 0 end) as converted,
        sum(case when is_holdout and is_converted then 1 else 0 end) as holdout_converted,
        sum(case when not is_holdout then attended_revenue else 0 end) as revenue
    from outcomes
    where campaign = 'rebook'
    group by company_id, as_of_date
),

days as (
    select company_id, as_of_date from snapshots
    union
    select company_id, as_of_date from outbox
    union
    select company_id, as_of_date from rebook
),

final as (
    select
        days.company_id,
        days.as_of_date as funnel_date,
        snapshots.active_clients,
        snapshots.due_before_exclusions,
        {%- for reason in var('exclusion_reasons') %}
        snapshots.excluded_{{ reason }},
        {%- endfor %}
        snapshots.due_after_exclusions,
        coalesce(outbox.holdout, 0) as holdout,
        coalesce(outbox.queued, 0) as queued,
        coalesce(outbox.sent, 0) as sent,
        coalesce(outbox.pending, 0) as pending,
        coalesce(outbox.failed, 0) as failed,
        coalesce(outbox.cancelled, 0) as cancelled,
        coalesce(outbox.expired, 0) as expired,
        coalesce(outbox.awaiting_review, 0) as awaiting_review,
        coalesce(outbox.rejected, 0) as rejected,
        coalesce(outbox.review_expired, 0) as review_expired,
        coalesce(outbox.converted, 0) as converted,
        coalesce(outbox.holdout_converted, 0) as holdout_converted,
        cast(coalesce(outbox.revenue, 0) as double precision) as revenue,
        {%- for step in rebook_steps %}
        coalesce(rebook.{{ step }}, 0) as rebook_{{ step }},
        {%- endfor %}
        cast(coalesce(rebook.revenue, 0) as double precision) as rebook_revenue
    from days
    left join snapshots
        on snapshots.company_id = days.company_id
        and snapshots.as_of_date = days.as_of_date
    left join outbox
        on outbox.company_id = days.company_id
        and outbox.as_of_date = days.as_of_date
    left join rebook
        on rebook.company_id = days.company_id
        and rebook.as_of_date = days.as_of_date
)

select * from final
