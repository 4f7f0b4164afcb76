{#- One row per company, record and reason the record (or a line of it) cannot be used.
    Incremental: a record's reasons depend only on the record and its lines, and both are rewritten together
    by the batch that last wrote the record, so only records of batches newer than this model are checked
    (and only their lines read); their old reasons are deleted first, since a fixed record has none left. -#}
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['company_id', 'record_id', 'reason'],
        on_schema_change='fail',
        pre_hook="{{ delete_rows_of_changed_records() }}",
        indexes=postgres_indexes([
            {'columns': ['company_id', 'record_id']},
            {'columns': ['batch_id']},
        ]),
    )
}}

with records as (
    select * from {{ ref('stg_yclients__records') }}
    {% if is_incremental() %}
    where batch_id > {{ batch_watermark() }}
    {% endif %}
),

record_services as (
    select * from {{ ref('stg_yclients__record_services') }}
),

-- lines of the records being checked only: a lookup by record key, not a scan of every line
checked_lines as (
    select record_services.*
    from record_services
    inner join records
        on records.company_id = record_services.company_id
        and records.record_id = record_services.record_id
),

line_counts as (
    select
        company_id,
        record_id,
        count(*) as line_count,
        sum(case when service_id is null then 1 else 0 end) as lines_without_id
    from checked_lines
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

final as (
    select
        reasons.company_id,
        reasons.record_id,
        reasons.reason,
        reasons.detail,
        records.is_deleted,
        records.last_change_at,
        records.batch_id
    from reasons
    inner join records
        on records.company_id = reasons.company_id
        and records.record_id = reasons.record_id
)

select * from final
