{#- Incremental models keyed by ingest batch. Every raw row carries the batch that last wrote it, and batch ids
    only grow, so "what changed since this model was built" is "rows of batches newer than the newest batch
    the model holds". A model that lost rows of its newest batch re-reads a little more next time, which is
    harmless: every incremental model here deletes what it recomputes. -#}

{#- The newest ingest batch this model (or `relation`) has read; 0 before its first build. Read once when the model is
    compiled (before its pre-hook deletes anything) and inlined as a number, so the planner sees how few rows
    the filter keeps and uses the batch index instead of guessing a third of the table. -#}
{% macro batch_watermark(relation=none, column='batch_id') -%}
    {%- if execute -%}
        {%- set found = run_query('select coalesce(max(' ~ column ~ '), 0) from ' ~ (relation or this)) -%}
        {{- found.columns[0].values()[0] | int -}}
    {%- else -%}
        0
    {%- endif -%}
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

{#- The (company, client, service) keys whose visit history changed since this model was built, read from the
    `int_visit_key_changes` log. Per-key models recompute exactly these keys. -#}
{% macro changed_visit_keys() -%}
    select distinct company_id, client_id, service_id
    from {{ ref('int_visit_key_changes') }}
    where batch_id > {{ batch_watermark() }}
{%- endmacro %}

{#- Before an incremental run of a per-key model: drop the rows of every changed key, so a key whose visits
    all disappeared (deleted, moved to another client) goes too; delete+insert then writes the rest. -#}
{% macro delete_changed_visit_keys() -%}
    {%- if is_incremental() -%}
    delete from {{ this }}
    where exists (
        select 1
        from {{ ref('int_visit_key_changes') }} as changed
        where changed.company_id = {{ this }}.company_id
            and changed.client_id = {{ this }}.client_id
            and changed.service_id = {{ this }}.service_id
            and changed.batch_id > {{ batch_watermark() }}
    )
    {%- endif -%}
{%- endmacro %}

{#- The shared config of the per-key visit models: delete+insert by key after dropping changed keys; the
    dependency on the log is declared here because the hook and the incremental branch are where it is read. -#}
{% macro per_visit_key_incremental_config(indexes=[]) -%}
    {{ config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['company_id', 'client_id', 'service_id'],
        on_schema_change='fail',
        pre_hook="{{ delete_changed_visit_keys() }}",
        indexes=postgres_indexes([{'columns': ['company_id', 'client_id', 'service_id']}] + indexes),
    ) }}
-- depends_on: {{ ref('int_visit_key_changes') }}
{%- endmacro %}

