{#- Phone numbers as digits in international form: a Russian trunk prefix 8 becomes the country code 7. -#}
{% macro normalise_phone(phone) -%}
    {{ normalise_phone_digits(digits_only(phone)) }}
{%- endmacro %}

{#- The same rule on text that is digits already (`digits_only` applied once, upstream). PostgreSQL substitutes a
    column computed in a CTE into every expression that reads it, so a model that normalises many phones computes
    the digits in a CTE ended by `evaluate_once()` and calls this: each regexp then runs once per row, not the
    dozen times the nested case and validity checks would repeat it. -#}
{% macro normalise_phone_digits(digits) -%}
    case
        when length({{ digits }}) = 11 and left({{ digits }}, 1) = '8'
            then '7' || substr({{ digits }}, 2)
        else nullif({{ digits }}, '')
    end
{%- endmacro %}

{#- A normalised phone is usable when its digit count fits E.164 with a country code. -#}
{% macro is_valid_phone(normalised_phone) -%}
    coalesce(length({{ normalised_phone }}) between {{ var('phone_min_digits') }} and {{ var('phone_max_digits') }}, false)
{%- endmacro %}

{#- Every character of `text_expression` that is not a digit removed. -#}
{% macro digits_only(text_expression) -%}
    {{ return(adapter.dispatch('digits_only', 'reactivation')(text_expression)) }}
{%- endmacro %}

{% macro default__digits_only(text_expression) -%}
    regexp_replace({{ text_expression }}, '[^0-9]', '', 'g')
{%- endmacro %}

{#- Spark's regexp_replace replaces every match; its fourth argument is a position, not flags. -#}
{% macro spark__digits_only(text_expression) -%}
    regexp_replace({{ text_expression }}, '[^0-9]', '')
{%- endmacro %}
