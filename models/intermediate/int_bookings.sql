{#- One row per company and record of a known client: when it was booked, whether it is still on, and the
    revenue it brought (attended only). Outcomes credit these bookings to messages.
    Incremental: every cache row of a record carries the batch that last wrote the record, so only records
    of batches newer than this model are re-aggregated; their old rows are deleted first (a record may have
    lost its client or every usable service since). -#}
{{ per_record_incremental_config(indexes=[{'columns': ['company_id', 'client_id']}]) }}

with appointments as (
    select * from {{ ref('appointments_cache') }}
    {% if is_incremental() %}
    where {{ rows_of_changed_records() }}
    {% endif %}
),

final as (
    select
        company_id,
        record_id,
        client_id,
        min(created_at) as booked_at,
        min(visit_at) as visit_at,
        min(visit_date) as visit_date,
        max(attendance) as attendance,
        bool_or(is_deleted) as is_deleted,
        sum(case when attendance = 1 and not is_deleted then cost else 0 end) as attended_revenue,
        -- all rows of a record share its batch; max() only names it without another group key
        max(batch_id) as batch_id
    from appointments
    group by company_id, record_id, client_id
)

select *{{ key_bucket_column('record_id') }} from final
