{#- One row per company, record and reason the record (or a line of it) cannot be used.
    Incremental: a record's reasons depend only on the record and its lines, and both are rewritten together
    by the batch that last wrote the record, so only records of batches newer than this model are checked
    (and only their lines read); their old reasons are deleted first, since a fixed record has none left. -#}
{{ per_record_incremental_config(key_columns=['reason']) }}

with records as (
    select * from {{ ref('stg_yclients__records') }}
    {% if is_incremental() %}
    where {{ rows_of_changed_records() }}
    {% endif %}
),

record_services as (
    select * from {{ ref('stg_yclients__record_services') }}
),

-- lines counted per checked record in one left join and group: one hash join over the lines whatever the
-- planner estimates (a correlated anti-join or a join to a pre-aggregated subquery can be re-run per record
-- when PostgreSQL underestimates a fresh batch, which turned seconds into minutes)
checked as (
    select
        records.company_id,
        records.record_id,
        records.client_id,
        records.datetime_raw,
        records.visit_at,
        records.invalid_fields,
        records.is_deleted,
        records.last_change_at,
        records.batch_id,
        count(record_services.record_id) as line_count,
        sum(case when record_services.record_id is not null and record_services.service_id is null then 1 else 0 end)
            as lines_without_id
    from records
    left join record_services
        on record_services.company_id = records.company_id
        and record_services.record_id = records.record_id
    group by
        records.company_id,
        records.record_id,
        records.client_id,
        records.datetime_raw,
        records.visit_at,
        records.invalid_fields,
        records.is_deleted,
        records.last_change_at,
        records.batch_id
),

-- every reason tested in one pass over the checked records (a union of six filters would read them six times)
reasons as (
    select reason
    from (
        values ('missing_client'), ('missing_datetime'), ('unparsable_datetime'), ('missing_services'),
            ('service_without_id'), ('unparsable_value')
    ) as reasons (reason)
),

final as (
    select
        checked.company_id,
        checked.record_id,
        reasons.reason,
        case reasons.reason
            when 'unparsable_datetime' then checked.datetime_raw
            when 'service_without_id' then
                cast(checked.lines_without_id as varchar) || ' of ' || cast(checked.line_count as varchar) || ' lines'
            when 'unparsable_value' then checked.invalid_fields
        end as detail,
        checked.is_deleted,
        checked.last_change_at,
        checked.batch_id
    from checked
    cross join reasons
    where case reasons.reason
        when 'missing_client' then checked.client_id is null
        when 'missing_datetime' then checked.datetime_raw is null
        when 'unparsable_datetime' then checked.datetime_raw is not null and checked.visit_at is null
        when 'missing_services' then checked.line_count = 0
        when 'service_without_id' then checked.lines_without_id > 0
        when 'unparsable_value' then checked.invalid_fields is not null
    end
)

select *{{ key_bucket_column('record_id') }} from final
