{#- One plain select, no CTEs: PostgreSQL cannot merge a view holding a WITH clause into the query that
    reads it, so the models' joins and batch filters could not reach the raw table's indexes. -#}
select
    ---------- ids
    company_id,
    id as client_id,
    ---------- strings
    nullif(trim(name), '') as client_name,
    nullif(trim(phone), '') as phone_raw,
    ---------- booleans
    coalesce(deleted, false) as is_deleted,
    coalesce(sms_not, 0) = 1 as has_sms_opt_out,
    ---------- timestamps
    _loaded_at as loaded_at,
    ---------- lineage
    _batch_id as batch_id
from {{ source('yclients', 'raw_yclients_clients') }} as source
