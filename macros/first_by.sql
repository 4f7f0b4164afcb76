{#- The value of `expression` on the row with the smallest `order_by`, as an aggregate (NULL values kept, like
    first_value over the same order): one pass in the group by, no window sort. -#}
{% macro first_by(expression, order_by) -%}
    {{ return(adapter.dispatch('first_by', 'reactivation')(expression, order_by)) }}
{%- endmacro %}

{% macro default__first_by(expression, order_by) -%}
    (array_agg({{ expression }} order by {{ order_by }}))[1]
{%- endmacro %}

{% macro duckdb__first_by(expression, order_by) -%}
    arg_min_null({{ expression }}, {{ order_by }})
{%- endmacro %}

{% macro spark__first_by(expression, order_by) -%}
    min_by({{ expression }}, {{ order_by }})
{%- endmacro %}
