with source as (
    select * from {{ source('runner', 'reactivation_opt_outs') }}
),

renamed as (
    select
        ---------- ids
        company_id,
        opt_out_key,
        client_id,
        ---------- strings
        {{ normalise_phone('phone') }} as phone,
        source as opt_out_source,
        ---------- booleans
        removed_at is null as is_active,
        ---------- timestamps
        created_at,
        removed_at
    from source
)

select * from renamed
