with source as (
    select * from {{ source('yclients', 'raw_yclients_record_services') }}
),

renamed as (
    select
        ---------- ids
        company_id,
        record_id,
        service_id,
        ---------- numerics
        position as line_position,
        coalesce(cost, 0) as cost,
        first_cost,
        amount,
        ---------- strings
        nullif(trim(title), '') as service_title,
        ---------- lineage
        _batch_id as batch_id
    from source
)

select * from renamed
