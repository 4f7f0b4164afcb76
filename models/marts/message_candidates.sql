{#- One row per client to message, by campaign (`win_back`: a due client; `rebook`: a reminder before the expected
    next visit): the outbox key of their next attempt (`company:client:cycle:campaign:attempt`, attempts numbered
    per cycle across campaigns), holdout flag, template variant and a per-company priority rank (the runner
    queues ranks up to `max_messages_per_run`, in the `run_priority` order). Assignment hashes (company, client,
    cycle) for the win-back and (company, client, cycle, `rebook`) for rebook, so a client keeps their group and
    variant across attempts and reruns, and each campaign draws its own holdout. -#}
{%- set campaign_columns = [
    'company_id', 'client_id', 'client_name', 'phone', 'service_id', 'service_title', 'category',
    'last_visit_date', 'interval_days', 'interval_level', 'days_since', 'overdue_ratio', 'cycle_id',
    'p_winback_needed', 'predicted_segment', 'company_name', 'locale', 'timezone', 'country', 'booking_url',
    'as_of_date',
] %}

with win_back as (
    select {{ campaign_columns | join(', ') }}, tone, 'win_back' as campaign
    from {{ ref('due_clients') }}
),

-- the rebook campaign's one tone is `rebook` (its templates: messages/templates/{ru,en}/rebook_<variant>)
rebook as (
    select {{ campaign_columns | join(', ') }}, 'rebook' as tone, 'rebook' as campaign
    from {{ ref('rebook_clients') }}
),

last_contacts as (
    select * from {{ ref('int_client_last_contacts') }}
),

-- every campaign's clients (a client is due or within the rebook window, never both), less anyone messaged within
-- `min_days_between_messages` days by any campaign (the cross-campaign frequency cap)
due as (
    select campaigns.*
    from (
        select * from win_back
        union all
        select * from rebook
    ) as campaigns
    where not exists (
        select 1
        from last_contacts
        where last_contacts.company_id = campaigns.company_id
            and last_contacts.client_id = campaigns.client_id
            and last_contacts.is_within_frequency_cap
    )
),

attempts as (
    select * from {{ ref('int_message_attempts') }}
),

usual_staff as (
    select * from {{ ref('int_client_usual_staff') }}
),

keyed as (
    select
        due.*,
        usual_staff.usual_staff_id,
        usual_staff.usual_staff_name,
        usual_staff.usual_staff_booking_url,
        coalesce(attempts.last_attempt, 0) + 1 as attempt,
        cast(due.company_id as varchar) || ':' || cast(due.client_id as varchar) || ':'
            || cast(due.cycle_id as varchar) as cycle_key
    from due
    left join attempts
        on attempts.company_id = due.company_id
        and attempts.client_id = due.client_id
        and attempts.cycle_id = due.cycle_id
    left join usual_staff
        on usual_staff.company_id = due.company_id
        and usual_staff.client_id = due.client_id
),

-- holdout and variant are drawn per campaign, each from its own hash input; the win-back keeps the input it always had
drawn as (
    select
        *,
        case when campaign = 'win_back' then cycle_key else cycle_key || ':' || campaign end as assignment_key
    from keyed
),

{%- set variants = var('message_variants') %}

assigned as (
    select
        *,
        cycle_key || ':' || campaign || ':' || cast(attempt as varchar) as message_key,
        mod({{ stable_bucket("assignment_key || ':holdout'") }}, 10000)
            < {{ (var('holdout_percent') * 100) | int }} as is_holdout,
        case mod({{ stable_bucket("assignment_key || ':variant'") }}, {{ variants | length }})
            {%- for variant in variants %}
            when {{ loop.index0 }} then '{{ variant }}'
            {%- endfor %}
        end as variant,
        row_number() over (
            partition by company_id
            -- one cap for both campaigns: rebook reminders first (few a day, and useful only inside their lead
            -- window), then the win-back in its own order (its backlog drains over the following days)
            order by case when campaign = 'rebook' then 0 else 1 end, {{ run_priority_order() }}
        ) as priority_rank
    from drawn
),

final as (
    select
        message_key,
        company_id,
        client_id,
        cycle_id,
        attempt,
        campaign,
        is_holdout,
        variant,
        priority_rank,
        priority_rank <= {{ var('max_messages_per_run') }} as is_within_run_cap,
        client_name,
        phone,
        service_id,
        service_title,
        category,
        last_visit_date,
        interval_days,
        interval_level,
        days_since,
        overdue_ratio,
        tone,
        p_winback_needed,
        predicted_segment,
        company_name,
        locale,
        timezone,
        country,
        -- the usual master's own booking link when the company has a per-master pattern and the master still works there
        coalesce(usual_staff_booking_url, booking_url) as booking_url,
        as_of_date,
        usual_staff_id,
        usual_staff_name
    from assigned
)

select * from final
