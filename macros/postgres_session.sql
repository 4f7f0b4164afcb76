{#- PostgreSQL, before every model: no JIT compilation. The models generate long expressions (the Erlang
    survival sums of int_return_outlook); with JIT on, LLVM spent over ten minutes optimising a query that runs in
    under a second without it. The models are short set-based queries that JIT never pays back. -#}
{% macro disable_jit() -%}
    {%- if target.type == 'postgres' -%}
    set jit = off
    {%- endif -%}
{%- endmacro %}

{#- PostgreSQL, in the transaction of a full build of a model that reads a whole history table and ranks its rows
    per client (int_client_contacts): no index or bitmap scans. The planner otherwise reads every record through
    the (company_id, client_id) index to save the sort, because history loaded company by company makes the
    index's first column look like the table's physical order; within a company the clients are scattered, so
    that is one random heap read per record: 64-74 s at 10 M records, against 19.5 s for a parallel sequential
    scan and sort (measured on the benchmark's 10 M warehouse). Incremental runs keep their index lookups. -#}
{% macro sequential_scans_on_full_build() -%}
    {%- if target.type == 'postgres' and not is_incremental() -%}
    set local enable_indexscan = off;
    set local enable_bitmapscan = off
    {%- endif -%}
{%- endmacro %}
