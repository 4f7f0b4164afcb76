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

{#- Before an incremental run: delete this model's rows whose `keys` match a row of `changes` written by a batch
    newer than the model; the model then recomputes those keys (a key may have nothing left to write). -#}
{% macro delete_keys_changed_since_watermark(changes, keys) -%}
    {%- if is_incremental() -%}
    delete from {{ this }}
    where exists (
        select 1
        from {{ changes }} as changed
        where changed.batch_id > {{ batch_watermark() }}
        {%- for key in keys %}
            and changed.{{ key }} = {{ this }}.{{ key }}
        {%- endfor %}
    )
    {%- endif -%}
{%- endmacro %}

{#- Pre-hook of record-keyed models (`company_id`, `record_id`, `batch_id`): drop every row of a changed record,
    so a service removed from a record, or a record that became unusable, does not linger. -#}
{% macro delete_rows_of_changed_records() -%}
    {{ delete_keys_changed_since_watermark(ref('stg_yclients__records'), ['company_id', 'record_id']) }}
{%- endmacro %}

{#- The shared config of the record-keyed models (appointments_cache, int_bookings, int_record_rejects): delete+insert
    by (`company_id`, `record_id`, then `key_columns`) after the pre-hook drops every row of a changed record; on
    Spark, partitions by company and record bucket (macros/spark_partitions.sql). The dependency on the staging
    records is declared here because the hook and the incremental filter are where they are read. -#}
{% macro per_record_incremental_config(key_columns=[], indexes=[]) -%}
    {%- if target.type == 'spark' -%}
    {{ spark_partitioned_incremental_config(
        "{{ drop_changed_partitions(ref('stg_yclients__records'), 'record_id') }}") }}
    {%- else -%}
    {{ config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['company_id', 'record_id'] + key_columns,
        on_schema_change='fail',
        pre_hook="{{ delete_rows_of_changed_records() }}",
        indexes=postgres_indexes([{'columns': ['company_id', 'record_id']}, {'columns': ['batch_id']}] + indexes),
    ) }}
    {%- endif %}
-- depends_on: {{ ref('stg_yclients__records') }}
{%- endmacro %}

{#- The filter of a record-keyed model's incremental run, on a relation with `company_id`, `record_id`, `batch_id`:
    the rows of records written by a batch newer than the model; on Spark, every row of the partitions such a
    record falls in (the partition is written again whole). -#}
{% macro rows_of_changed_records() -%}
    {{ return(adapter.dispatch('rows_of_changed_records', 'reactivation')()) }}
{%- endmacro %}

{% macro default__rows_of_changed_records() -%}
    batch_id > {{ batch_watermark() }}
{%- endmacro %}

{% macro spark__rows_of_changed_records() -%}
    (company_id, {{ key_bucket('record_id') }}) in (
        {{ changed_partitions(ref('stg_yclients__records'), 'record_id') }}
    )
{%- endmacro %}

{#- The (company, client, service) keys whose visit history changed since this model was built, read from the
    `int_visit_key_changes` log. Per-key models recompute exactly these keys; on Spark, every key of the
    partitions (company, client bucket) a changed key falls in, read from the cache. -#}
{% macro changed_visit_keys() -%}
    {{ return(adapter.dispatch('changed_visit_keys', 'reactivation')()) }}
{%- endmacro %}

{% macro default__changed_visit_keys() -%}
    select distinct company_id, client_id, service_id
    from {{ ref('int_visit_key_changes') }}
    where batch_id > {{ batch_watermark() }}
{%- endmacro %}

{% macro spark__changed_visit_keys() -%}
    select distinct cached.company_id, cached.client_id, cached.service_id
    from {{ ref('appointments_cache') }} as cached
    inner join ({{ changed_partitions(ref('int_visit_key_changes'), 'client_id') }}) as changed
        on changed.company_id = cached.company_id
        and changed.key_bucket = {{ key_bucket('cached.client_id') }}
{%- endmacro %}

{#- Pre-hook of the per-key visit models: drop the rows of every changed key, so a key whose visits all
    disappeared (deleted, moved to another client) goes too; delete+insert then writes the rest. -#}
{% macro delete_changed_visit_keys() -%}
    {{ delete_keys_changed_since_watermark(ref('int_visit_key_changes'), ['company_id', 'client_id', 'service_id']) }}
{%- endmacro %}

{#- The shared config of the per-key visit models: delete+insert by key after dropping changed keys; on Spark,
    partitions by company and client bucket. The dependencies on the log (and, on Spark, the cache) are declared
    here because the hook and the incremental branch are where they are read. -#}
{% macro per_visit_key_incremental_config(indexes=[]) -%}
    {%- if target.type == 'spark' -%}
    {{ spark_partitioned_incremental_config(
        "{{ drop_changed_partitions(ref('int_visit_key_changes'), 'client_id') }}") }}
    {%- else -%}
    {{ config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['company_id', 'client_id', 'service_id'],
        on_schema_change='fail',
        pre_hook="{{ delete_changed_visit_keys() }}",
        indexes=postgres_indexes([{'columns': ['company_id', 'client_id', 'service_id']}] + indexes),
    ) }}
    {%- endif %}
-- depends_on: {{ ref('int_visit_key_changes') }}
{% if target.type == 'spark' -%}
-- depends_on: {{ ref('appointments_cache') }}
{%- endif %}
{%- endmacro %}


{#- The materialization of the models kept up to date by deleting and re-inserting their own keys (contacts,
    categories, which also read their own previous rows): `incremental`, except on Spark, where parquet tables take
    no DELETE and a model cannot overwrite a table it reads; there these two are rebuilt whole on every run
    (`table`). The record-keyed and per-key visit models are incremental by partition on Spark. -#}
{% macro keyed_incremental() -%}
    {{ return('table' if target.type == 'spark' else 'incremental') }}
{%- endmacro %}
