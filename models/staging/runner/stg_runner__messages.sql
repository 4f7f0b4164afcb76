with source as (
    select * from {{ source('runner', 'reactivation_messages') }}
),

renamed as (
    select
        ---------- ids
        message_key,
        company_id,
        client_id,
        cycle_id,
        attempt,
        service_id,
        ---------- strings
        status,
        tone,
        interval_level,
        variant,
        channel,
        composer,
        ---------- booleans
        is_holdout,
        ---------- timestamps
        as_of_date,
        scheduled_at,
        created_at,
        sent_at,
        coalesce(sent_at, created_at) as contacted_at
    from source
)

select * from renamed
