{#- The return outlook's formulas (int_return_outlook), in plain SQL both engines share (no dispatch needed).

    An active client's gaps are Erlang(k, λ); their rate λ is uncertain, Gamma(a, β) after their intervals, so the
    time to the next visit has the predictive survival
        S̃(t) = P(NB(a, q) < k) = q^a · Σ_{i<k} Π_{j<i} (a + j)·(1 - q) / (j + 1),   q = β / (β + t)
    (the negative binomial CDF). The sum is written in Horner form, 1 + c₀·(1 + c₁·(1 + …)) with
    c_j = (a + j)·(1 - q) / (j + 1), one gate per term for k up to erlang_max_shape(); it stays below 1e120 for
    every a the models meet (a < 10⁴). q^a is taken as exp(a·ln q), and every exponent is floored at -700, so
    PostgreSQL never raises an underflow. Each macro spells each sum once: PostgreSQL evaluates every copy. -#}

{% macro outlook_nb_sum(shape, a, beta, days) -%}
    {%- set one_minus_q -%}
        (cast({{ days }} as double precision) / (cast({{ beta }} as double precision) + {{ days }}))
    {%- endset -%}
    {%- set ns = namespace(text='1.0') -%}
    {%- for j in range(erlang_max_shape() - 2, -1, -1) %}
        {%- set ns.text -%}
            (1.0 + case when {{ shape }} > {{ j + 1 }}
                then (cast({{ a }} as double precision) + {{ j }}) * {{ one_minus_q }} / {{ j + 1 }} * {{ ns.text }}
                else 0.0 end)
        {%- endset -%}
    {%- endfor %}
    {{ ns.text }}
{%- endmacro %}

{#- ln q^a = a·ln(β / (β + t)). -#}
{% macro outlook_nb_log_base(a, beta, days) -%}
    (cast({{ a }} as double precision)
        * ln(cast({{ beta }} as double precision) / (cast({{ beta }} as double precision) + {{ days }})))
{%- endmacro %}

{#- S̃(t): P(an active client has not come back t days after the last visit), the rate's uncertainty included.
    The exponent is floored at -700 (S̃ ≈ 1e-304 there) instead of a `case` that would spell the sum twice. -#}
{% macro outlook_predictive_survival(shape, a, beta, days) -%}
    exp(greatest({{ outlook_nb_log_base(a, beta, days) }} + ln({{ outlook_nb_sum(shape, a, beta, days) }}), -700.0))
{%- endmacro %}

{#- S̃(t₂) / S̃(t₁) = P(no return by t₂ | none by t₁), t₂ ≥ t₁, without dividing two underflowed survivals:
    (q₂ / q₁)^a · Σ₂ / Σ₁. -#}
{% macro outlook_predictive_survival_ratio(shape, a, beta, days_from, days_to) -%}
    (
        exp(greatest(
            {{ outlook_nb_log_base(a, beta, days_to) }} - {{ outlook_nb_log_base(a, beta, days_from) }}, -700.0
        ))
        * {{ outlook_nb_sum(shape, a, beta, days_to) }}
        / {{ outlook_nb_sum(shape, a, beta, days_from) }}
    )
{%- endmacro %}

{#- P(still a client | no return by t) with a time-based dropout: a client stops at rate μ per day, whatever their
    rhythm. Alive and not back: e^(-μt)·S̃(t). Stopped before coming back (with the rate at its estimate λ = a / β):
    ∫₀ᵗ μe^(-μu) S(u) du = 1 - ρ^k·(1 - S_{λ+μ}(t)) - e^(-μt)·S_λ(t), ρ = λ / (λ + μ), S the Erlang survival.
    p_active = alive / (alive + stopped); 1 when μ = 0; 0 when alive is below 1e-300 (at the survival's floor).
    Exponents are floored at -700 (no PostgreSQL underflow). -#}
{% macro outlook_p_active(shape, a, beta, days, rate, survival) -%}
    {%- set lam -%}(cast({{ a }} as double precision) / {{ beta }}){%- endset -%}
    {%- set alive -%}
        (exp(greatest(-{{ rate }} * {{ days }}, -700.0)) * {{ survival }})
    {%- endset -%}
    {%- set stopped -%}
        greatest(
            1.0
            - exp(greatest({{ shape }} * ln({{ lam }} / ({{ lam }} + {{ rate }})), -700.0))
                * (1.0 - {{ erlang_survival(shape, '(' ~ lam ~ ' + ' ~ rate ~ ') * ' ~ days) }})
            - exp(greatest(-{{ rate }} * {{ days }}, -700.0)) * {{ erlang_survival(shape, lam ~ ' * ' ~ days) }},
            0.0
        )
    {%- endset -%}
    (case
        when {{ rate }} <= 0 then 1.0
        when {{ alive }} < 1e-300 then 0.0
        else {{ alive }} / ({{ alive }} + {{ stopped }})
    end)
{%- endmacro %}

{#- P(the client stops before their next visit) = 1 - ρ^k = 1 - (λ / (λ + μ))^k, λ = a / β. -#}
{% macro outlook_dropout_before_next_visit(shape, a, beta, rate) -%}
    {%- set lam -%}(cast({{ a }} as double precision) / {{ beta }}){%- endset -%}
    (1.0 - exp(greatest({{ shape }} * ln({{ lam }} / ({{ lam }} + {{ rate }})), -700.0)))
{%- endmacro %}
