{#- One plain select, no CTEs: PostgreSQL cannot merge a view holding a WITH clause into the query that
    reads it, so the models' joins and batch filters could not reach the raw table's indexes. -#}
select
    ---------- ids
    company_id,
    ---------- strings
    coalesce(nullif(trim(name), ''), 'company ' || cast(company_id as varchar)) as company_name,
    coalesce(nullif(trim(timezone), ''), '{{ var("default_timezone") }}') as timezone,
    timezone_error,
    lower(coalesce(nullif(trim(locale), ''), 'ru')) as locale,
    upper(coalesce(nullif(trim(country), ''), 'RU')) as country,
    nullif(trim(booking_url), '') as booking_url,
    nullif(trim(staff_booking_url), '') as staff_booking_url,
    ---------- timestamps
    _loaded_at as loaded_at
from {{ source('yclients', 'raw_yclients_companies') }} as source
