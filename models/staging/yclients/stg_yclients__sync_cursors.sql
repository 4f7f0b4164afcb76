{#- One plain select, no CTEs: PostgreSQL cannot merge a view holding a WITH clause into the query that
    reads it, so the models' joins and batch filters could not reach the raw table's indexes. -#}
select
    ---------- ids
    company_id,
    ---------- strings
    entity,
    cursor_value,
    ---------- timestamps
    updated_at
from {{ source('yclients', 'raw_sync_cursors') }} as source
