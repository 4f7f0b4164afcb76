{#- One row per company: volumes and freshness the quality gate checks before any message leaves, and whether the
    company is held (its time zone is unusable), which the runner reports before anything else. Counted from the
    steps the marts are built from (due = candidates no exclusion leaves out), so the daily snapshots can read it
    below the marts. -#}
with companies as (
    select * from {{ ref('int_companies_as_of') }}
),

intervals as (
    select * from {{ ref('int_intervals_chosen') }}
),

candidates as (
    select * from {{ ref('int_due_candidates') }}
),

contacts as (
    select * from {{ ref('int_client_contacts') }}
),

exclusions as (
    select * from {{ ref('int_due_exclusions') }}
),

records as (
    select * from {{ ref('stg_yclients__records') }}
),

sync_cursors as (
    select * from {{ ref('stg_yclients__sync_cursors') }}
),

active as (
    select
        intervals.company_id,
        count(distinct intervals.client_id) as active_clients
    from intervals
    inner join companies
        on companies.company_id = intervals.company_id
    where {{ days_between('intervals.last_visit_date', 'companies.as_of_date') }} <= {{ var('lost_after_days') }}
    group by intervals.company_id
),

-- the clients `due_clients` lists: candidates with a contact that no exclusion leaves out
due_counts as (
    select candidates.company_id, count(*) as due_clients
    from candidates
    inner join contacts
        on contacts.company_id = candidates.company_id
        and contacts.client_id = candidates.client_id
    where not exists (
        select 1
        from exclusions
        where exclusions.company_id = candidates.company_id
            and exclusions.client_id = candidates.client_id
    )
    group by candidates.company_id
),

excluded_counts as (
    select company_id, count(distinct client_id) as excluded_clients
    from exclusions
    group by company_id
),

-- one pass over the records for volume and both freshness marks (the staging view is a plain select of the raw
-- table); an exact count needs every record, since a batch cannot tell a new record from a rewritten one
record_counts as (
    select
        company_id,
        count(*) as records,
        max(last_change_at) as last_record_change_at,
        max(loaded_at) as loaded_at
    from records
    group by company_id
),

-- a quiet day loads no record, but a complete API sync still proves the data is current
completed_syncs as (
    select company_id, max(updated_at) as synced_at
    from sync_cursors
    where entity = 'records'
    group by company_id
),

loads as (
    select
        record_counts.company_id,
        case
            when completed_syncs.synced_at > record_counts.loaded_at then completed_syncs.synced_at
            else record_counts.loaded_at
        end as last_loaded_at
    from record_counts
    left join completed_syncs
        on completed_syncs.company_id = record_counts.company_id
),

final as (
    select
        companies.company_id,
        companies.company_name,
        companies.is_held,
        companies.timezone_error,
        companies.as_of_date,
        coalesce(active.active_clients, 0) as active_clients,
        coalesce(due_counts.due_clients, 0) as due_clients,
        coalesce(excluded_counts.excluded_clients, 0) as excluded_clients,
        coalesce(record_counts.records, 0) as records,
        record_counts.last_record_change_at,
        loads.last_loaded_at
    from companies
    left join active on active.company_id = companies.company_id
    left join due_counts on due_counts.company_id = companies.company_id
    left join excluded_counts on excluded_counts.company_id = companies.company_id
    left join record_counts on record_counts.company_id = companies.company_id
    left join loads on loads.company_id = companies.company_id
)

select * from final
