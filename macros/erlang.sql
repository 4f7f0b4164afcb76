{#- Erlang (gamma with a whole-number shape k) survival, in plain SQL both engines share (no dispatch needed).

    With x = rate × t = k·t / mean, S(t) = e^(-x) · P_k(x) where P_k(x) = Σ_{i<k} x^i / i! (the Poisson CDF
    identity). P_k is summed term by term for i < 30, the largest shape the outlook uses; 1/i! is a literal
    computed here. S is taken as exp(ln P_k(x) - x), and as 0 below e^-700, so PostgreSQL never raises an
    underflow. -#}

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

{#- S(t) = P(T > t) for T ~ Erlang(k, rate), given x = rate × t. -#}
{% macro erlang_survival(shape, x) -%}
    (case
        when ln({{ erlang_poisson_sum(shape, x) }}) - cast({{ x }} as double precision) < -700 then 0.0
        else exp(ln({{ erlang_poisson_sum(shape, x) }}) - cast({{ x }} as double precision))
    end)
{%- endmacro %}

{#- S(t₂) / S(t₁) = P(T > t₂ | T > t₁) for x₂ = rate × t₂ ≥ x₁ = rate × t₁, computed without dividing two
    underflowed survivals: e^-(x₂ - x₁) · P_k(x₂) / P_k(x₁). -#}
{% macro erlang_survival_ratio(shape, x_from, x_to) -%}
    (
        exp(greatest(cast({{ x_from }} as double precision) - cast({{ x_to }} as double precision), -700.0))
        * {{ erlang_poisson_sum(shape, x_to) }}
        / {{ erlang_poisson_sum(shape, x_from) }}
    )
{%- endmacro %}

{#- P(still a client | no return yet) = (1 - p)·S / ((1 - p)·S + p) for a per-visit dropout probability p; 1 when
    p = 0 (nobody ever stops). -#}
{% macro outlook_p_active(dropout, survival) -%}
    (case
        when {{ dropout }} <= 0 then 1.0
        else (1 - {{ dropout }}) * {{ survival }} / ((1 - {{ dropout }}) * {{ survival }} + {{ dropout }})
    end)
{%- endmacro %}
