{#- One row per company, past as-of date and decile of predicted probability: how well the return outlook's
    `p_return_in_horizon` (still a client and back within `outlook_horizon_days`) matched what due clients did.
    Only clients no message could have moved: a due client counts unless a treated message of any campaign and
    status was queued for them within `attribution_days` before the as-of date or during the horizon (the holdout
    and the clients the per-run cap left out stay). Booked: a non-deleted booking of any service created within
    the horizon from the as-of moment. Only as-of dates whose horizon has ended are shown. Deciles are fixed
    probability bands (0–10 %, …, 90–100 %), so companies and days pool by summing. -#}
with snapshots as (
    select * from {{ ref('int_outlook_snapshots') }}
),

bookings as (
    select * from {{ ref('int_bookings') }}
),

messages as (
    select * from {{ ref('message_outcomes') }}
),

companies as (
    select * from {{ ref('int_companies_as_of') }}
),

matured as (
    select snapshots.*
    from snapshots
    inner join companies
        on companies.company_id = snapshots.company_id
    where {{ dbt.dateadd('day', var('outlook_horizon_days'), 'snapshots.as_of_date') }} <= companies.as_of_date
),

unmessaged as (
    select matured.*
    from matured
    where not exists (
        select 1
        from messages
        where messages.company_id = matured.company_id
            and messages.client_id = matured.client_id
            and not messages.is_holdout
            and messages.as_of_date > {{ dbt.dateadd('day', -var('attribution_days'), 'matured.as_of_date') }}
            and messages.as_of_date < {{ dbt.dateadd('day', var('outlook_horizon_days'), 'matured.as_of_date') }}
    )
),

observed as (
    select
        unmessaged.*,
        least(greatest(cast(floor(unmessaged.p_return_in_horizon * 10) as integer), 0), 9) + 1 as probability_decile,
        case when exists (
            select 1
            from bookings
            where bookings.company_id = unmessaged.company_id
                and bookings.client_id = unmessaged.client_id
                and not bookings.is_deleted
                and bookings.booked_at >= unmessaged.as_of_at
                and bookings.booked_at < {{ dbt.dateadd('day', var('outlook_horizon_days'), 'unmessaged.as_of_at') }}
        ) then 1 else 0 end as has_booked
    from unmessaged
    where unmessaged.p_return_in_horizon is not null
),

binned as (
    select
        company_id,
        as_of_date,
        probability_decile,
        count(*) as clients,
        sum(p_return_in_horizon) as predicted_sum,
        sum(has_booked) as booked_clients
    from observed
    group by company_id, as_of_date, probability_decile
),

final as (
    select
        company_id,
        as_of_date,
        probability_decile,
        cast(probability_decile - 1 as double precision) / 10 as decile_lower,
        cast(probability_decile as double precision) / 10 as decile_upper,
        clients,
        cast(predicted_sum as double precision) as predicted_sum,
        cast(predicted_sum as double precision) / clients as mean_predicted,
        booked_clients,
        cast(booked_clients as double precision) / clients as observed_share
    from binned
)

select * from final
