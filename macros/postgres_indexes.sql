{#- The `indexes` config of a model, for PostgreSQL only. dbt-duckdb would build them as ART indexes, which
    DuckDB uses only for point lookups (its zone maps already prune ranges), which every delete+insert must
    maintain, and whose drop-and-create around a full refresh races with models built in parallel threads
    (duckdb_indexes() then fails on a backup table another thread just dropped). -#}
{% macro postgres_indexes(indexes) -%}
    {{ return(indexes if target.type == 'postgres' else []) }}
{%- endmacro %}
