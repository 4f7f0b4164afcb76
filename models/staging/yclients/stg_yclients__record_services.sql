{#- One plain select, no CTEs: PostgreSQL cannot merge a view holding a WITH clause into the query that
    reads it, so the models' joins and batch filters could not reach the raw table's indexes. -#}
select
    ---------- ids
    company_id,
    record_id,
    service_id,
    ---------- numerics
    position as line_position,
    coalesce(cost, 0) as cost,
    first_cost,
    amount,
    ---------- strings
    nullif(trim(title), '') as service_title,
    ---------- lineage
    _batch_id as batch_id
from {{ source('yclients', 'raw_yclients_record_services') }} as source
