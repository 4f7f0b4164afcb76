{#- Incremental on Spark, by partition. Parquet tables take no DELETE, so the models kept up to date by deleting and
    re-inserting keys elsewhere (delete+insert) are, on Spark, parquet tables partitioned by company and a key
    bucket (`key_bucket`, the key mod var `spark_key_buckets`): an incremental run drops the partitions a changed
    key falls in and writes them again from history (`insert_overwrite`, dynamic partitions); every other
    partition stays as it was. Dropping first is what removes a partition whose keys all vanished: dynamic
    overwrite only replaces partitions the new rows fall in. -#}

{#- The partition bucket of an integer key: the same `key mod spark_key_buckets` the raw tables are published with. -#}
{% macro key_bucket(key_column) -%}
    cast(pmod({{ key_column }}, {{ var('spark_key_buckets') }}) as int)
{%- endmacro %}

{#- The extra `key_bucket` column of a partitioned model: on Spark only (other engines have no partitions). -#}
{% macro key_bucket_column(key_column) -%}
    {%- if target.type == 'spark' %}, {{ key_bucket(key_column) }} as key_bucket{% endif -%}
{%- endmacro %}

{#- (company_id, key_bucket) of every row of `changes` written by a batch newer than this model. -#}
{% macro changed_partitions(changes, bucket_key) -%}
    select distinct company_id, {{ key_bucket(bucket_key) }} as key_bucket
    from {{ changes }}
    where batch_id > {{ batch_watermark() }}
{%- endmacro %}

{#- Pre-hook on Spark: drop this model's partitions that a change of `changes` falls in (none on a full build). -#}
{% macro drop_changed_partitions(changes, bucket_key) -%}
    {%- if is_incremental() and execute -%}
        {%- set found = run_query(changed_partitions(changes, bucket_key)) -%}
        {%- if found.rows | length > 0 -%}
    alter table {{ this }} drop if exists
            {%- for row in found.rows %} partition (company_id = {{ row[0] }}, key_bucket = {{ row[1] }}){{ ',' if not loop.last }}{% endfor %}
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}

{#- The config of a partitioned model on Spark; `drop_hook` is its drop_changed_partitions call. -#}
{% macro spark_partitioned_incremental_config(drop_hook) -%}
    {{ config(
        materialized='incremental',
        incremental_strategy='insert_overwrite',
        partition_by=['company_id', 'key_bucket'],
        file_format='parquet',
        on_schema_change='fail',
        pre_hook=drop_hook,
    ) }}
{%- endmacro %}
