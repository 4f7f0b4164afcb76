{#- One row per line or object the ingest could not load at all, in the shape of `record_rejects` (reason
    `not_loaded`, the loader's message and the offending text as detail, file and line). -#}
with ingest_rejects as (
    select * from {{ ref('stg_yclients__ingest_rejects') }}
),

final as (
    select
        cast(null as bigint) as company_id,
        cast(null as bigint) as record_id,
        'not_loaded' as reason,
        reason || ': ' || coalesce(content, '') as detail,
        cast(null as boolean) as is_deleted,
        cast(null as timestamp with time zone) as last_change_at,
        file,
        line
    from ingest_rejects
)

select * from final
