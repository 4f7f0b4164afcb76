{#- The final select of a campaign's client mart (due_clients for the win-back, rebook_clients for the rebook):
    each candidate not excluded, with the contact, service title, company settings and return outlook a message
    needs. The calling model defines the import CTEs `candidates`, `exclusions`, `contacts`, `service_categories`,
    `companies` and `outlook`; `candidate_columns` and `outlook_columns` are what the campaign adds from those. -#}
{% macro campaign_clients(candidate_columns, outlook_columns) %}
    select
        candidates.company_id,
        candidates.client_id,
        contacts.client_name,
        contacts.phone,
        candidates.service_id,
        service_categories.service_title,
        candidates.category,
        candidates.last_visit_date,
        candidates.interval_days,
        candidates.interval_level,
        candidates.interval_count,
        candidates.days_since,
        candidates.overdue_ratio,
        {%- for column in candidate_columns %}
        candidates.{{ column }},
        {%- endfor %}
        candidates.cycle_id,
        {%- for column in outlook_columns %}
        outlook.{{ column }},
        {%- endfor %}
        companies.company_name,
        companies.locale,
        companies.timezone,
        companies.country,
        companies.booking_url,
        candidates.as_of_date
    from candidates
    inner join contacts
        on contacts.company_id = candidates.company_id
        and contacts.client_id = candidates.client_id
    inner join companies
        on companies.company_id = candidates.company_id
    left join service_categories
        on service_categories.company_id = candidates.company_id
        and service_categories.service_id = candidates.service_id
    left join outlook
        on outlook.company_id = candidates.company_id
        and outlook.client_id = candidates.client_id
        and outlook.service_id = candidates.service_id
    where not exists (
        select 1
        from exclusions
        where exclusions.company_id = candidates.company_id
            and exclusions.client_id = candidates.client_id
    )
{% endmacro %}
