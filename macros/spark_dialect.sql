{#- Spark SQL names some standard types its own way: `double` for `double precision`, `timestamp` (an instant, shown in
    the session's UTC) for `timestamp with time zone`, `string` for a `varchar` without a length. The models write
    the names DuckDB and PostgreSQL share, so on Spark every statement dbt creates a table or view from (and every
    seed column type) names these types Spark's way. Only type names are rewritten, as whole words; everything else
    an engine does differently goes through a dispatched macro (local_time, days_between, phone, stable_bucket...). -#}
{% macro spark_sql(compiled_code) -%}
    {%- set re = modules.re -%}
    {%- set code = re.sub('(?i)\\bdouble\\s+precision\\b', 'double', compiled_code) -%}
    {%- set code = re.sub('(?i)\\btimestamp\\s+with\\s+time\\s+zone\\b', 'timestamp', code) -%}
    {%- set code = re.sub('(?i)\\btimestamptz\\b', 'timestamp', code) -%}
    {%- set code = re.sub('(?i)\\bvarchar\\b(?!\\s*\\()', 'string', code) -%}
    {{- code -}}
{%- endmacro %}

{% macro spark__create_table_as(temporary, relation, compiled_code, language='sql') -%}
    {{- dbt.spark__create_table_as(temporary, relation, spark_sql(compiled_code) if language == 'sql' else compiled_code, language) -}}
{%- endmacro %}

{% macro spark__create_view_as(relation, sql) -%}
    {{- dbt.spark__create_view_as(relation, spark_sql(sql)) -}}
{%- endmacro %}

{#- Seeds on Spark: column types named Spark's way, and values written as escaped literals (dbt-spark's session
    cursor inlines seed values without escaping, so a quote in a label broke the insert). -#}
{% macro spark__create_csv_table(model, agate_table) %}
    {%- set column_override = model['config'].get('column_types', {}) -%}
    {%- set quote_seed_column = model['config'].get('quote_columns', None) -%}
    {% set sql %}
        create table {{ this.render() }} (
            {%- for col_name in agate_table.column_names -%}
                {%- set type = spark_sql(column_override.get(col_name, adapter.convert_type(agate_table, loop.index0))) -%}
                {{ adapter.quote_seed_column(col_name | string, quote_seed_column) }} {{ type }} {%- if not loop.last -%}, {%- endif -%}
            {%- endfor -%}
        )
        {{ file_format_clause() }}
    {% endset %}
    {% call statement('_') -%}
        {{ sql }}
    {%- endcall %}
    {{ return(sql) }}
{% endmacro %}

{% macro spark__load_csv_rows(model, agate_table) %}
    {%- set column_override = model['config'].get('column_types', {}) -%}
    {%- set statements = [] -%}
    {%- for chunk in agate_table.rows | batch(get_batch_size()) -%}
        {%- set sql -%}
            insert into {{ this.render() }} values
            {% for row in chunk -%}
                ({%- for col_name in agate_table.column_names -%}
                    {%- set type = spark_sql(column_override.get(col_name, adapter.convert_type(agate_table, loop.index0))) -%}
                    {%- set value = row[loop.index0] -%}
                    {%- if value is none -%}
                        cast(null as {{ type }})
                    {%- else -%}
                        cast('{{ (value | string).replace("\\", "\\\\").replace("'", "\\'") }}' as {{ type }})
                    {%- endif -%}
                    {%- if not loop.last %}, {% endif -%}
                {%- endfor -%})
                {%- if not loop.last %},{% endif %}
            {% endfor -%}
        {%- endset -%}
        {%- do adapter.add_query(sql, abridge_sql_log=True) -%}
        {%- if loop.index0 == 0 %}{% do statements.append(sql) %}{% endif -%}
    {%- endfor -%}
    {{ return(statements[0]) }}
{% endmacro %}

{#- dbt unit tests on Spark: the model's SQL runs inside the test's own statement (no create_table_as), so it gets the
    same type names rewrite, and so do the expected rows. -#}
{% macro spark__get_unit_test_sql(main_sql, expected_fixture_sql, expected_column_names) -%}
    {{- dbt.default__get_unit_test_sql(spark_sql(main_sql), spark_sql(expected_fixture_sql), expected_column_names) -}}
{%- endmacro %}
