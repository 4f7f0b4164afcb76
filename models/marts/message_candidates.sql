{#- One row per due client: the outbox key of their next attempt, holdout flag, template variant and a
    per-company priority rank (the runner queues ranks up to `max_messages_per_run`, in the `run_priority` order). Assignment hashes
    (company, client, cycle), so a client keeps their group and variant across attempts and reruns. -#}
with due as (
    select * from {{ ref('due_clients') }}
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
            || cast(due.cycle_id as varchar) as assignment_key
    from due
    left join attempts
        on attempts.company_id = due.company_id
        and attempts.client_id = due.client_id
        and attempts.cycle_id = due.cycle_id
    left join usual_staff
        on usual_staff.company_id = due.company_id
        and usual_staff.client_id = due.client_id
),

{%- set variants = var('message_variants') %}

assigned as (
    select
        *,
        assignment_key || ':' || cast(attempt as varchar) as message_key,
        mod({{ stable_bucket("assignment_key || ':holdout'") }}, 10000)
            < {{ (var('holdout_percent') * 100) | int }} as is_holdout,
        case mod({{ stable_bucket("assignment_key || ':variant'") }}, {{ variants | length }})
            {%- for variant in variants %}
            when {{ loop.index0 }} then '{{ variant }}'
            {%- endfor %}
        end as variant,
        row_number() over (
            partition by company_id
            order by {{ run_priority_order() }}
        ) as priority_rank
    from keyed
),

final as (
    select
        message_key,
        company_id,
        client_id,
        cycle_id,
        attempt,
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
