{#- Append-only log: one row per (company, client, service) key whose visit history an ingest batch touched,
    with that batch. The per-key models (int_visits, int_visit_intervals, int_visit_history) recompute only
    the keys logged after their own newest batch, so the daily cost follows the day's changes.

    A changed record can move its visits away from a key (another client, a dropped service, a record that
    became unusable), so the log takes both the record's keys as the cache holds them now and its keys in the
    new version. That is why it runs before appointments_cache (the cache declares `depends_on` this model)
    and reads the cache's current rows through a plain relation, not ref(), which would be a cycle. -#}
{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='fail',
        indexes=postgres_indexes([{'columns': ['batch_id']}]),
    )
}}

{%- set cache = adapter.get_relation(database=this.database, schema=this.schema, identifier='appointments_cache')
    if execute else none %}

with records as (
    select * from {{ ref('stg_yclients__records') }}
),

record_services as (
    select * from {{ ref('stg_yclients__record_services') }}
),

{% if is_incremental() and cache is not none %}
cached as (
    select * from {{ cache }}
),

-- the records the cache is about to re-read: exactly its own incremental filter
changed_records as (
    select company_id, record_id, client_id, batch_id
    from records
    where batch_id > {{ batch_watermark(cache) }}
),

keys_before as (
    select cached.company_id, cached.client_id, cached.service_id, changed_records.batch_id
    from cached
    inner join changed_records
        on changed_records.company_id = cached.company_id
        and changed_records.record_id = cached.record_id
),

keys_after as (
    select changed_records.company_id, changed_records.client_id, record_services.service_id, changed_records.batch_id
    from changed_records
    inner join record_services
        on record_services.company_id = changed_records.company_id
        and record_services.record_id = changed_records.record_id
    where changed_records.client_id is not null
        and record_services.service_id is not null
),

final as (
    select company_id, client_id, service_id, max(batch_id) as batch_id
    from (
        select * from keys_before
        union all
        select * from keys_after
    ) as touched
    group by company_id, client_id, service_id
)
{% else %}
-- a first build or a full refresh rebuilds every per-key model from scratch: nothing to log
final as (
    select company_id, client_id, cast(null as bigint) as service_id, batch_id
    from records
    where 1 = 0
)
{% endif %}

select * from final
