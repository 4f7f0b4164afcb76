-- Nothing usable is lost between the raw records and the cache: every record with a client, a parsable
-- datetime and a service line with an id has its (record, service) rows cached.
select records.company_id, records.record_id, lines.service_id
from {{ ref('stg_yclients__records') }} as records
inner join {{ ref('stg_yclients__record_services') }} as lines
    on lines.company_id = records.company_id
    and lines.record_id = records.record_id
left join {{ ref('appointments_cache') }} as cache
    on cache.company_id = records.company_id
    and cache.record_id = records.record_id
    and cache.service_id = lines.service_id
where records.client_id is not null
    and records.visit_at is not null
    and lines.service_id is not null
    and cache.record_id is null
