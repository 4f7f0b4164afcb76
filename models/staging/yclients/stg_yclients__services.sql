{#- One plain select, no CTEs: PostgreSQL cannot merge a view holding a WITH clause into the query that
    reads it, so the models' joins and batch filters could not reach the raw table's indexes. -#}
select
    ---------- ids
    company_id,
    id as service_id,
    category_id,
    ---------- strings
    nullif(trim(title), '') as service_title,
    nullif(trim(category_title), '') as category_title,
    ---------- numerics
    cost as list_price,
    ---------- timestamps
    _loaded_at as loaded_at,
    ---------- lineage
    _batch_id as batch_id
from {{ source('yclients', 'raw_yclients_services') }} as source
