{#- Whole number, halves rounded up. PostgreSQL's round() on double precision ties to even, so never use it here. -#}
{% macro round_half_up(expression) -%}
    cast(floor(cast({{ expression }} as numeric(18, 6)) + 0.5) as integer)
{%- endmacro %}
