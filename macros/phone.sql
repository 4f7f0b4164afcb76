{#- Phone numbers as digits in international form: a Russian trunk prefix 8 becomes the country code 7. -#}
{% macro normalise_phone(phone) -%}
    case
        when length(regexp_replace({{ phone }}, '[^0-9]', '', 'g')) = 11
         and left(regexp_replace({{ phone }}, '[^0-9]', '', 'g'), 1) = '8'
            then '7' || substr(regexp_replace({{ phone }}, '[^0-9]', '', 'g'), 2)
        else nullif(regexp_replace({{ phone }}, '[^0-9]', '', 'g'), '')
    end
{%- endmacro %}

{#- A normalised phone is usable when its digit count fits E.164 with a country code. -#}
{% macro is_valid_phone(normalised_phone) -%}
    coalesce(length({{ normalised_phone }}) between {{ var('phone_min_digits') }} and {{ var('phone_max_digits') }}, false)
{%- endmacro %}
