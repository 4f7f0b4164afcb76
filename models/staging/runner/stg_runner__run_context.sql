{#- Exactly one row, even when the runner wrote none (plain `dbt` use): the aggregate of an empty table is NULL. -#}
select
    ---------- dates
    max(as_of_date) as as_of_date
from {{ source('runner', 'reactivation_run_context') }}
