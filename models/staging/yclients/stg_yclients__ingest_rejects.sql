with source as (
    select * from {{ source('yclients', 'raw_ingest_rejects') }}
),

renamed as (
    select
        ---------- ids
        batch_id,
        ---------- strings
        source as ingest_source,
        file,
        line,
        reason,
        content,
        ---------- timestamps
        rejected_at
    from source
)

select * from renamed
