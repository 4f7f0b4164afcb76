{#- One row per company, record and service line: the appointment history every rule reads.
    Incremental: only records written by ingest batches newer than the cache are read; their old rows are
    deleted first (a record may have lost a service or become unusable), then their current rows inserted. -#}
-- depends_on: {{ ref('int_visit_key_changes') }} (that log reads this table's rows before they change)
{{ per_record_incremental_config(
    key_columns=['service_id'],
    indexes=[{'columns': ['company_id', 'client_id', 'service_id']}],
) }}

with records as (
    select * from {{ ref('stg_yclients__records') }}
    {% if is_incremental() %}
    where {{ rows_of_changed_records() }}
    {% endif %}
),

record_services as (
    select * from {{ ref('stg_yclients__record_services') }}
),

companies as (
    select * from {{ ref('stg_yclients__companies') }}
),

usable_lines as (
    select
        records.company_id,
        records.record_id,
        records.client_id,
        record_services.service_id,
        record_services.service_title,
        record_services.line_position,
        record_services.cost,
        records.visit_at,
        -- a held company's zone is never used (`int_companies_as_of` keeps its dates NULL); its visits are dated
        -- in the default zone until it is fixed, and a `--full-refresh` then re-dates them
        {{ local_date(
            'records.visit_at',
            "coalesce(case when companies.timezone_error is null then companies.timezone end, '"
            ~ var('default_timezone') ~ "')"
        ) }} as visit_date,
        records.attendance,
        records.is_deleted,
        records.created_at,
        records.last_change_at,
        records.batch_id
    from records
    inner join record_services
        on record_services.company_id = records.company_id
        and record_services.record_id = records.record_id
    left join companies
        on companies.company_id = records.company_id
    where records.client_id is not null
        and records.visit_at is not null
        and record_services.service_id is not null
),

per_service as (
    select
        company_id,
        record_id,
        client_id,
        service_id,
        -- a service booked twice in one record keeps the title of its first line
        {{ first_by('service_title', 'line_position') }} as service_title,
        visit_at,
        visit_date,
        attendance,
        is_deleted,
        sum(cost) as cost,
        created_at,
        last_change_at,
        batch_id
    from usable_lines
    group by
        company_id, record_id, client_id, service_id, visit_at, visit_date,
        attendance, is_deleted, created_at, last_change_at, batch_id
),

final as (
    select
        per_service.company_id,
        per_service.record_id,
        per_service.client_id,
        per_service.service_id,
        per_service.service_title,
        per_service.visit_at,
        per_service.visit_date,
        per_service.attendance,
        per_service.is_deleted,
        cast(per_service.cost as double precision) as cost,
        per_service.created_at,
        per_service.last_change_at,
        per_service.batch_id
    from per_service
)

select *{{ key_bucket_column('record_id') }} from final
