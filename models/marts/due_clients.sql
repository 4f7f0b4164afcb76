{{ config(indexes=postgres_indexes([{'columns': ['company_id', 'client_id'], 'unique': true}])) }}

with candidates as (
    select * from {{ ref('int_due_candidates') }}
),

exclusions as (
    select * from {{ ref('int_due_exclusions') }}
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
    candidate_columns=['tone'],
    outlook_columns=[
        'regularity_shape', 'expected_next_visit_date', 'p_not_returned_yet', 'p_active', 'p_winback_needed',
        'predicted_segment',
    ],
) }}
)

select * from final
