{#- The exclusion reasons every campaign shares, one select of (company_id, client_id) per reason over the
    calling model's `candidates` CTE (one row per company and client, with `as_of_at`), so the rule lives here once:
    int_due_exclusions (win-back) and int_rebook_exclusions (rebook) both call it. The calling model must define
    the import CTEs `contacts` (int_client_contacts), `bookings_ahead` (int_client_bookings_ahead) and `opt_outs`
    (active rows of stg_runner__opt_outs).
    - future_booking: any non-deleted record from the as-of moment on;
    - opted_out: YClients' sms_not on the card, or an active opt-out by client id or by normalised phone;
    - client_deleted: the card is deleted;
    - invalid_phone: no phone within the phone digit bounds. -#}
{% macro contact_exclusion(reason) %}
    {%- if reason == 'future_booking' %}
    select candidates.company_id, candidates.client_id
    from candidates
    inner join bookings_ahead
        on bookings_ahead.company_id = candidates.company_id
        and bookings_ahead.client_id = candidates.client_id
    {%- elif reason == 'opted_out' %}
    select candidates.company_id, candidates.client_id
    from candidates
    left join contacts
        on contacts.company_id = candidates.company_id
        and contacts.client_id = candidates.client_id
    where coalesce(contacts.has_sms_opt_out, false)
        or exists (
            select 1
            from opt_outs
            where opt_outs.company_id = candidates.company_id
                and (
                    opt_outs.client_id = candidates.client_id
                    or (contacts.has_valid_phone and '+' || opt_outs.phone = contacts.phone)
                )
        )
    {%- elif reason == 'client_deleted' %}
    select candidates.company_id, candidates.client_id
    from candidates
    inner join contacts
        on contacts.company_id = candidates.company_id
        and contacts.client_id = candidates.client_id
    where contacts.is_deleted
    {%- elif reason == 'invalid_phone' %}
    select candidates.company_id, candidates.client_id
    from candidates
    left join contacts
        on contacts.company_id = candidates.company_id
        and contacts.client_id = candidates.client_id
    where not coalesce(contacts.has_valid_phone, false)
    {%- else %}
    {{ exceptions.raise_compiler_error("contact_exclusion: no shared rule for reason " ~ reason) }}
    {%- endif %}
{% endmacro %}

{#- `max_attempts` for either campaign: candidates with `limit` or more of the CTE `messages`' rows in their cycle. -#}
{% macro attempts_exclusion(messages, limit) %}
    select candidates.company_id, candidates.client_id
    from candidates
    inner join {{ messages }} as messages
        on messages.company_id = candidates.company_id
        and messages.client_id = candidates.client_id
        and messages.cycle_id = candidates.cycle_id
    group by candidates.company_id, candidates.client_id
    having count(*) >= {{ limit }}
{% endmacro %}

{#- One (company_id, client_id, reason) row per reason CTE, exactly the reasons listed (a reason without its CTE
    fails to compile; a CTE not listed is never applied). -#}
{% macro exclusion_reasons_union(reasons) %}
    {%- for reason in reasons %}
    select company_id, client_id, '{{ reason }}' as reason from {{ reason }}
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
{% endmacro %}
