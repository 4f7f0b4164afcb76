{#- Ends a CTE whose computed columns later steps read several times, so they are computed once per row.
    PostgreSQL inlines a CTE read once and substitutes its expressions into every reference: int_return_outlook's
    survival sums were copied a dozen times per row (97 s for 4 000 rows). OFFSET 0 keeps the subquery whole, a
    documented planner fence; DuckDB computes each CTE column once already and needs nothing. -#}
{% macro evaluate_once() -%}
    {{ return(adapter.dispatch('evaluate_once', 'reactivation')()) }}
{%- endmacro %}

{% macro default__evaluate_once() -%}
{%- endmacro %}

{% macro postgres__evaluate_once() -%}
    offset 0
{%- endmacro %}
