{#- One plain select, no CTEs: PostgreSQL cannot merge a view holding a WITH clause into the query that
    reads it, so the models' joins and batch filters could not reach the raw table's indexes. -#}
select
    ---------- ids
    company_id,
    opt_out_key,
    client_id,
    ---------- strings
    {{ normalise_phone('phone') }} as phone,
    source as opt_out_source,
    ---------- booleans
    removed_at is null as is_active,
    ---------- timestamps
    created_at,
    removed_at
from {{ source('runner', 'reactivation_opt_outs') }} as source
