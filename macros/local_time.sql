{#- Time-zone helpers: every calendar date in the rules is a date in the company's own time zone. -#}

{#- Wall-clock timestamp of an instant (timestamptz) in the named zone. -#}
{% macro local_timestamp(instant, timezone) -%}
    {{ return(adapter.dispatch('local_timestamp', 'reactivation')(instant, timezone)) }}
{%- endmacro %}

{% macro default__local_timestamp(instant, timezone) -%}
    timezone({{ timezone }}, {{ instant }})
{%- endmacro %}

{#- Spark's timestamps are instants shown in the session zone (UTC, set by the profile). -#}
{% macro spark__local_timestamp(instant, timezone) -%}
    from_utc_timestamp({{ instant }}, {{ timezone }})
{%- endmacro %}

{#- Local calendar date of an instant. -#}
{% macro local_date(instant, timezone) -%}
    cast({{ local_timestamp(instant, timezone) }} as date)
{%- endmacro %}

{#- The instant at which a local calendar date starts (00:00 in the zone). -#}
{% macro local_midnight(local_date_expression, timezone) -%}
    {{ return(adapter.dispatch('local_midnight', 'reactivation')(local_date_expression, timezone)) }}
{%- endmacro %}

{% macro default__local_midnight(local_date_expression, timezone) -%}
    timezone({{ timezone }}, cast({{ local_date_expression }} as timestamp))
{%- endmacro %}

{% macro spark__local_midnight(local_date_expression, timezone) -%}
    to_utc_timestamp(cast({{ local_date_expression }} as timestamp), {{ timezone }})
{%- endmacro %}

{#- The run's as-of date D: the date the runner wrote to the run context (`requested`, read from
    `stg_runner__run_context` at run time, so the date is no part of dbt's parse), else the var `as_of_date`
    (plain `dbt build --vars ...`), else today in the company's zone. -#}
{% macro as_of_date(requested, timezone) -%}
    {%- if var('as_of_date') -%}
        coalesce({{ requested }}, cast('{{ var("as_of_date") }}' as date))
    {%- else -%}
        coalesce({{ requested }}, {{ local_date('current_timestamp', timezone) }})
    {%- endif -%}
{%- endmacro %}
