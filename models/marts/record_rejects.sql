{#- One row per company, record and reason a record (or a line of it) cannot be used, plus the lines the
    ingest could not load at all. Nothing unusable disappears without a trace.
    The record-level reasons are kept incrementally in `int_record_rejects`; this mart only adds the
    load-level rejects to them, so a rebuild copies the (few) rejects instead of re-checking every record. -#}
with record_rejects as (
    select * from {{ ref('int_record_rejects') }}
),

ingest_rejects as (
    select * from {{ ref('stg_yclients__ingest_rejects') }}
),

record_level as (
    select
        company_id,
        record_id,
        reason,
        detail,
        is_deleted,
        last_change_at,
        cast(null as varchar) as file,
        cast(null as bigint) as line
    from record_rejects
),

load_level as (
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
),

final as (
    select * from record_level
    union all
    select * from load_level
)

select * from final
