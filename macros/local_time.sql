{#- Time-zone helpers: every calendar date in the rules is a date in the company's own time zone. -#}

{#- Wall-clock timestamp of an instant (timestamptz) in the named zone. -#}
{% macro local_timestamp(instant, timezone) -%}
    {{ return(adapter.dispatch('local_timestamp', 'reactivation')(instant, timezone)) }}
{%- endmacro %}

{% macro default__local_timestamp(instant, timezone) -%}
    timezone({{ timezone }}, {{ instant }})
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

{#- The run's as-of date D: the var `as_of_date` when set, else today in the company's zone. -#}
{% macro as_of_date(timezone) -%}
    {%- if var('as_of_date') -%}
        cast('{{ var("as_of_date") }}' as date)
    {%- else -%}
        {{ local_date('current_timestamp', timezone) }}
    {%- endif -%}
{%- endmacro %}

{#- A constant instant no later than any company's as-of moment: D is at most a day behind the UTC date
    (zones down to -12 h) and its midnight at most 14 h before UTC midnight (zones up to +14 h), so two days
    before D (or before the run's UTC date) is safe. A literal, unlike the per-company as-of moment, lets
    PostgreSQL range-scan an index on the instant column instead of reading every row. -#}
{% macro earliest_as_of_at() -%}
    {%- if var('as_of_date') -%}
        {%- set day = modules.datetime.date.fromisoformat((var('as_of_date') | string)[:10]) -%}
    {%- else -%}
        {%- set day = run_started_at.date() -%}
    {%- endif -%}
    cast('{{ (day - modules.datetime.timedelta(days=2)).isoformat() }} 00:00:00+00' as timestamp with time zone)
{%- endmacro %}
