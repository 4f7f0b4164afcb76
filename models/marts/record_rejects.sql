{#- One row per company, record and reason a record (or a line of it) cannot be used, plus the lines the
    ingest could not load at all. Nothing unusable disappears without a trace. -#}
with records as (
    select * from {{ ref('stg_yclients__records') }}
),

record_services as (
    select * from {{ ref('stg_yclients__record_services') }}
),

ingest_rejects as (
    select * from {{ ref('stg_yclients__ingest_rejects') }}
),

line_counts as (
    select
        company_id,
        record_id,
        count(*) as line_count,
        sum(case when service_id is null then 1 else 0 end) as lines_without_id
    from record_services
    group by company_id, record_id
),

reasons as (
    select company_id, record_id, 'missing_client' as reason, cast(null as varchar) as detail
    from records
    where client_id is null
    union all
    select company_id, record_id, 'missing_datetime' as reason, cast(null as varchar) as detail
    from records
    where datetime_raw is null
    union all
    select company_id, record_id, 'unparsable_datetime' as reason, datetime_raw as detail
    from records
    where datetime_raw is not null and visit_at is null
    union all
    select records.company_id, records.record_id, 'missing_services' as reason, cast(null as varchar) as detail
    from records
    left join line_counts
        on line_counts.company_id = records.company_id
        and line_counts.record_id = records.record_id
    where line_counts.record_id is null
    union all
    select company_id, record_id, 'service_without_id' as reason,
        cast(lines_without_id as varchar) || ' of ' || cast(line_count as varchar) || ' lines' as detail
    from line_counts
    where lines_without_id > 0
    union all
    select company_id, record_id, 'unparsable_value' as reason, invalid_fields as detail
    from records
    where invalid_fields is not null
),

record_level as (
    select
        reasons.company_id,
        reasons.record_id,
        reasons.reason,
        reasons.detail,
        records.is_deleted,
        records.last_change_at,
        cast(null as varchar) as file,
        cast(null as bigint) as line
    from reasons
    inner join records
        on records.company_id = reasons.company_id
        and records.record_id = reasons.record_id
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
