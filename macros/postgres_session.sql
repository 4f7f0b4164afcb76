{#- PostgreSQL, before every model: no JIT compilation. The models generate long expressions (the Erlang
    survival sums of int_return_outlook); with JIT on, LLVM spent over ten minutes optimising a query that runs in
    under a second without it. The models are short set-based queries that JIT never pays back. -#}
{% macro disable_jit() -%}
    {%- if target.type == 'postgres' -%}
    set jit = off
    {%- endif -%}
{%- endmacro %}
