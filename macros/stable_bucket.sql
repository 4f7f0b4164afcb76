{#- A stable, engine-independent integer in [0, 2^32) from text: the first 32 bits of its MD5.
    The runner and analysts can recompute it anywhere (Python: int(md5(text).hexdigest()[:8], 16)). -#}
{% macro stable_bucket(text_expression) -%}
    {{ return(adapter.dispatch('stable_bucket', 'reactivation')(text_expression)) }}
{%- endmacro %}

{% macro default__stable_bucket(text_expression) -%}
    (('x' || substr(md5({{ text_expression }}), 1, 8))::bit(32)::bigint)
{%- endmacro %}

{% macro spark__stable_bucket(text_expression) -%}
    cast(conv(substr(md5({{ text_expression }}), 1, 8), 16, 10) as bigint)
{%- endmacro %}

{% macro duckdb__stable_bucket(text_expression) -%}
    cast('0x' || substr(md5({{ text_expression }}), 1, 8) as bigint)
{%- endmacro %}
