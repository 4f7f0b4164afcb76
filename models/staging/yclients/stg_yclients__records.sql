{#- One plain select, no CTEs: PostgreSQL cannot merge a view holding a WITH clause into the query that
    reads it, so the models' joins and batch filters could not reach the raw table's indexes. -#}
select
    ---------- ids
    company_id,
    id as record_id,
    client_id,
    staff_id,
    visit_id,
    ---------- strings
    nullif(trim(client_name), '') as client_name,
    nullif(trim(client_phone), '') as client_phone_raw,
    datetime_raw,
    invalid_fields,
    ---------- numerics
    attendance,
    ---------- booleans
    coalesce(deleted, false) as is_deleted,
    ---------- timestamps
    visit_at,
    create_date as created_at,
    last_change_at,
    ---------- lineage
    _batch_id as batch_id,
    _loaded_at as loaded_at
from {{ source('yclients', 'raw_yclients_records') }} as source
