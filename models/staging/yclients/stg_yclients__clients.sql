with source as (
    select * from {{ source('yclients', 'raw_yclients_clients') }}
),

renamed as (
    select
        ---------- ids
        company_id,
        id as client_id,
        ---------- strings
        nullif(trim(name), '') as client_name,
        nullif(trim(phone), '') as phone_raw,
        ---------- booleans
        coalesce(deleted, false) as is_deleted,
        coalesce(sms_not, 0) = 1 as has_sms_opt_out,
        ---------- timestamps
        _loaded_at as loaded_at,
        ---------- lineage
        _batch_id as batch_id
    from source
)

select * from renamed
