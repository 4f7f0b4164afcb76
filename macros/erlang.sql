{#- Erlang (gamma with a whole-number shape k) survival, in plain SQL both engines share (no dispatch needed).

    With x = rate × t = k·t / mean, S(t) = e^(-x) · P_k(x) where P_k(x) = Σ_{i<k} x^i / i! (the Poisson CDF
    identity). P_k is summed term by term for i < 30, the largest shape the outlook uses; 1/i! is a literal
    computed here. S is taken as exp(ln P_k(x) - x) with the exponent floored at -700 (S ≈ 1e-304 there, not an
    underflow error on PostgreSQL). -#}

{% macro erlang_max_shape() -%}
    {{ return(30) }}
{%- endmacro %}

{#- P_k(x) = Σ_{i=0}^{k-1} x^i / i!: ≥ 1, finite for every x the models meet (x^29 < 1e300 while x < 1e10). -#}
{% macro erlang_poisson_sum(shape, x) -%}
    {%- set ns = namespace(factorial=1) -%}
    (
    {%- for i in range(erlang_max_shape()) %}
        {%- if i > 0 %}{% set ns.factorial = ns.factorial * i %}{% endif %}
        {% if not loop.first %}+ {% endif -%}
        case when {{ shape }} > {{ i }}
            then power(cast({{ x }} as double precision), {{ i }}) * cast({{ 1.0 / ns.factorial }} as double precision)
            else 0 end
    {%- endfor %}
    )
{%- endmacro %}

{#- S(t) = P(T > t) for T ~ Erlang(k, rate), given x = rate × t. The exponent is floored at -700 rather than the
    survival set to 0 by a `case`, which would spell the 30-term sum twice per row (PostgreSQL evaluates both). -#}
{% macro erlang_survival(shape, x) -%}
    exp(greatest(ln({{ erlang_poisson_sum(shape, x) }}) - cast({{ x }} as double precision), -700.0))
{%- endmacro %}
