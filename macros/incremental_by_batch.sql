{#- Incremental models keyed by ingest batch. Every raw row carries the batch that last wrote it, and batch ids
    only grow, so "what changed since this model was built" is "rows of batches newer than the newest batch
    the model holds". A model that lost rows of its newest batch re-reads a little more next time, which is
    harmless: every incremental model here deletes what it recomputes. -#}

{#- The newest ingest batch this model has read; 0 before its first build. -#}
{% macro batch_watermark(column='batch_id') -%}
    (select coalesce(max({{ column }}), 0) from {{ this }})
{%- endmacro %}

{#- Before an incremental run: drop every row of a record that changed since the model was built, so a
    service removed from a record, or a record that became unusable, does not linger. The model must carry
    `company_id`, `record_id` and `batch_id`. -#}
{% macro delete_rows_of_changed_records() -%}
    {%- if is_incremental() -%}
    delete from {{ this }}
    where exists (
        select 1
        from {{ ref('stg_yclients__records') }} as changed
        where changed.company_id = {{ this }}.company_id
            and changed.record_id = {{ this }}.record_id
            and changed.batch_id > {{ batch_watermark() }}
    )
    {%- endif -%}
{%- endmacro %}
