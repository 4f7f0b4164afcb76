-- A row in due_clients must be due by the rules and must not appear among the exclusions.
select due.company_id, due.client_id, 'not due' as problem
from {{ ref('due_clients') }} as due
where due.days_since < due.interval_days
    or due.days_since > {{ var('lost_after_days') }}
    or due.overdue_ratio < 1
union all
select due.company_id, due.client_id, 'excluded' as problem
from {{ ref('due_clients') }} as due
inner join {{ ref('due_client_exclusions') }} as exclusions
    on exclusions.company_id = due.company_id
    and exclusions.client_id = due.client_id
