{#- One row per due client and reason they are left out, as `int_due_exclusions` decides them (the snapshots and
    company health count the same rows there). -#}
{{ config(indexes=postgres_indexes([{'columns': ['company_id', 'client_id']}])) }}

with exclusions as (
    select * from {{ ref('int_due_exclusions') }}
),

final as (
    select
        company_id,
        client_id,
        service_id,
        reason,
        tone,
        interval_level,
        as_of_date
    from exclusions
)

select * from final
