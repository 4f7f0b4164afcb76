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

final as ({{ campaign_clients(
    candidate_columns=['expected_next_visit_date', 'days_to_expected_visit'],
    outlook_columns=['p_winback_needed', 'predicted_segment'],
) }}
)

select * from final
