{#- One row per company, record and reason a record (or a line of it) cannot be used, plus the lines the
    ingest could not load at all. Nothing unusable disappears without a trace.
    The record-level reasons are kept incrementally in `int_record_rejects`; this mart only adds the
    load-level rejects (`int_load_rejects`) to them, so a rebuild copies the (few) rejects instead of re-checking every record. -#}
with record_rejects as (
    select * from {{ ref('int_record_rejects') }}
),

load_rejects as (
    select * from {{ ref('int_load_rejects') }}
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
        company_id,
        record_id,
        reason,
        detail,
        is_deleted,
        last_change_at,
        file,
        line
    from load_rejects
),

final as (
    select * from record_level
    union all
    select * from load_level
)

select * from final
