{#- One row per company, client and cycle with an outbox row: the highest attempt number used so far, so the next
    message of the cycle takes the one after it (whatever became of the earlier rows). -#}
with messages as (
    select * from {{ ref('stg_runner__messages') }}
),

final as (
    select
        company_id,
        client_id,
        cycle_id,
        max(attempt) as last_attempt
    from messages
    group by company_id, client_id, cycle_id
)

select * from final
