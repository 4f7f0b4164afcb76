{#- One plain select, no CTEs: PostgreSQL cannot merge a view holding a WITH clause into the query that
    reads it, so the models' joins and batch filters could not reach the raw table's indexes. -#}
select
    ---------- ids
    company_id,
    id as staff_id,
    ---------- strings
    nullif(trim(name), '') as staff_name,
    nullif(trim(specialization), '') as specialization,
    ---------- booleans
    coalesce(fired, false) as is_fired,
    ---------- timestamps
    _loaded_at as loaded_at,
    ---------- lineage
    _batch_id as batch_id
from {{ source('yclients', 'raw_yclients_staff') }} as source
