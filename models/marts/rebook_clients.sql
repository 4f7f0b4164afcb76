{#- One row per company and client to remind before they lapse (the rebook campaign), after exclusions: the
    service whose expected next visit is within `rebook_lead_days`, with what a message needs. -#}
{{ config(indexes=postgres_indexes([{'columns': ['company_id', 'client_id'], 'unique': true}])) }}

with candidates as (
    select * from {{ ref('int_rebook_candidates') }}
),

exclusions as (
    select * from {{ ref('int_rebook_exclusions') }}
),

contacts as (
    select * from {{ ref('int_client_contacts') }}
),

service_categories as (
    select * from {{ ref('int_service_categories') }}
),

companies as (
    select * from {{ ref('int_companies_as_of') }}
),

outlook as (
    select * from {{ ref('int_return_outlook') }}
),

final as (
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
        candidates.expected_next_visit_date,
        candidates.days_to_expected_visit,
        candidates.cycle_id,
        outlook.p_winback_needed,
        outlook.predicted_segment,
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
)

select * from final
