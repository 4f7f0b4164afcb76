{#- One plain select, no CTEs: PostgreSQL cannot merge a view holding a WITH clause into the query that
    reads it, so the models' joins and batch filters could not reach the raw table's indexes. -#}
select
    ---------- ids
    batch_id,
    ---------- strings
    source as ingest_source,
    file,
    line,
    reason,
    content,
    ---------- timestamps
    rejected_at
from {{ source('yclients', 'raw_ingest_rejects') }} as source
