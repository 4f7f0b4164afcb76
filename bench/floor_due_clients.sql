-- The floor: due_clients (docs/rules.md) in one hand-written statement straight from the raw tables, with no
-- intermediate tables, for DuckDB, PostgreSQL and Spark SQL. Rule parameters are the defaults of dbt_project.yml;
-- {as_of} is the as-of date; the other {{slots}} are the few expressions Spark SQL writes its own way
-- (bench/steps.py FLOOR_DIALECTS: local time, days between dates, type names, regexp_replace's flags).
-- Categories come from the seed tables dbt loaded. The bench's outbox and opt-out tables are empty (the harness
-- checks), so cooldown, attempts and opt-outs reduce to YClients' sms_not.
with companies as (
    select
        company_id,
        zone,
        cast('{as_of}' as date) as as_of_date,
        {as_of_at} as as_of_at
    from (
        select company_id, coalesce(nullif(trim(timezone), ''), 'Europe/Moscow') as zone
        from raw_yclients_companies
    ) as zoned
),

-- attended, not deleted, before D; same-day duplicates collapse
visits as (
    select distinct
        records.company_id,
        records.client_id,
        lines.service_id,
        {local_visit_date} as visit_date
    from raw_yclients_records as records
    inner join companies on companies.company_id = records.company_id
    inner join raw_yclients_record_services as lines
        on lines.company_id = records.company_id and lines.record_id = records.id
    where records.attendance = 1
        and not coalesce(records.deleted, false)
        and records.client_id is not null
        and lines.service_id is not null
        and {local_visit_date} < companies.as_of_date
),

gaps as (
    select
        company_id,
        client_id,
        service_id,
        visit_date,
        {gap} as gap
    from visits
),

pairs as (
    select
        company_id,
        client_id,
        service_id,
        max(visit_date) as last_visit_date,
        count(case when gap between 7 and 365 then 1 end) as personal_count,
        percentile_cont(0.5) within group (order by case when gap between 7 and 365 then gap end) as personal_median
    from gaps
    group by company_id, client_id, service_id
),

service_pools as (
    select
        company_id,
        service_id,
        count(*) as pool_count,
        count(distinct client_id) as pool_clients,
        percentile_cont(0.5) within group (order by gap) as pool_median
    from gaps
    where gap between 7 and 365
    group by company_id, service_id
),

-- the menu, plus booked services missing from it under the title of their latest appointment
catalogue as (
    select
        company_id,
        id as service_id,
        nullif(trim(title), '') as service_title,
        nullif(trim(category_title), '') as category_title
    from raw_yclients_services
    union all
    select company_id, service_id, service_title, cast(null as {text}) as category_title
    from (
        select
            lines.company_id,
            lines.service_id,
            nullif(trim(lines.title), '') as service_title,
            row_number() over (
                partition by lines.company_id, lines.service_id
                order by records.visit_at desc, records.id desc, lines.position
            ) as recency
        from raw_yclients_record_services as lines
        inner join raw_yclients_records as records
            on records.company_id = lines.company_id and records.id = lines.record_id
        where lines.service_id is not null
            and records.client_id is not null
            and records.visit_at is not null
            and not exists (
                select 1
                from raw_yclients_services as menu
                where menu.company_id = lines.company_id and menu.id = lines.service_id
            )
    ) as unlisted
    where recency = 1
),

-- a title match beats a category-title match; then the lowest priority, the longest keyword, the category name
categories as (
    select company_id, service_id, service_title, category
    from (
        select
            catalogue.company_id,
            catalogue.service_id,
            catalogue.service_title,
            rules.category,
            row_number() over (
                partition by catalogue.company_id, catalogue.service_id
                order by
                    case when position(rules.keyword in lower(catalogue.service_title)) > 0 then 0 else 1 end,
                    rules.priority,
                    length(rules.keyword) desc,
                    rules.category
            ) as match_rank
        from catalogue
        left join service_category_rules as rules
            on position(rules.keyword in lower(catalogue.service_title)) > 0
            or position(rules.keyword in lower(catalogue.category_title)) > 0
    ) as matched
    where match_rank = 1
),

leveled as (
    select
        pairs.company_id,
        pairs.client_id,
        pairs.service_id,
        pairs.last_visit_date,
        max(pairs.last_visit_date) over (partition by pairs.company_id, pairs.client_id) as cycle_id,
        categories.service_title,
        categories.category,
        case
            when pairs.personal_count >= 2 then 'personal'
            when service_pools.pool_count >= 10 and service_pools.pool_clients >= 3 then 'service'
            when industry.typical_interval_days is not null then 'industry'
            else 'fallback'
        end as interval_level,
        pairs.personal_count,
        pairs.personal_median,
        service_pools.pool_count,
        service_pools.pool_median,
        industry.typical_interval_days
    from pairs
    left join service_pools
        on service_pools.company_id = pairs.company_id and service_pools.service_id = pairs.service_id
    left join categories
        on categories.company_id = pairs.company_id and categories.service_id = pairs.service_id
    left join industry_standards as industry
        on industry.category = categories.category
),

-- rounded half up (medians are whole or .5, so floor(x + 0.5) is exact), clamped to [7, 365]
sized as (
    select
        leveled.*,
        least(greatest(cast(floor(
            case interval_level
                when 'personal' then personal_median
                when 'service' then pool_median
                when 'industry' then typical_interval_days
                else 35
            end + 0.5
        ) as integer), 7), 365) as interval_days,
        case interval_level
            when 'personal' then personal_count
            when 'service' then pool_count
            else 0
        end as interval_count
    from leveled
),

due as (
    select
        sized.*,
        {days_since} as days_since
    from sized
    inner join companies on companies.company_id = sized.company_id
),

ranked as (
    select
        due.*,
        cast(days_since as {double}) / interval_days as overdue_ratio,
        case
            when days_since * 10 < 15 * interval_days then 'gentle'
            when days_since * 10 < 30 * interval_days then 'offer'
            else 'win_back'
        end as tone,
        row_number() over (
            partition by company_id, client_id
            order by cast(days_since as {double}) / interval_days desc, last_visit_date desc, service_id
        ) as due_rank
    from due
    where days_since >= interval_days and days_since <= 365
),

best as (
    select * from ranked where due_rank = 1
),

-- a client without a card takes name and phone from their most recently changed record
record_contacts as (
    select company_id, client_id, client_name, client_phone
    from (
        select
            records.company_id,
            records.client_id,
            nullif(trim(records.client_name), '') as client_name,
            nullif(trim(records.client_phone), '') as client_phone,
            row_number() over (
                partition by records.company_id, records.client_id
                order by records.last_change_at desc nulls last, records.id desc
            ) as recency
        from raw_yclients_records as records
        where records.client_id is not null
            and not exists (
                select 1
                from raw_yclients_clients as cards
                where cards.company_id = records.company_id and cards.id = records.client_id
            )
    ) as latest
    where recency = 1
),

-- any non-deleted record at or after the as-of moment, any service
bookings_ahead as (
    select records.company_id, records.client_id
    from raw_yclients_records as records
    inner join companies on companies.company_id = records.company_id
    where records.client_id is not null
        and not coalesce(records.deleted, false)
        and records.visit_at >= companies.as_of_at
    group by records.company_id, records.client_id
),

contacts as (
    select
        best.*,
        case when cards.id is not null then nullif(trim(cards.name), '') else record_contacts.client_name end
            as client_name,
        regexp_replace(
            case when cards.id is not null then nullif(trim(cards.phone), '') else record_contacts.client_phone end,
            '[^0-9]', ''{all_matches}
        ) as digits,
        coalesce(cards.deleted, false) as is_deleted,
        coalesce(cards.sms_not, 0) = 1 as has_sms_opt_out
    from best
    left join raw_yclients_clients as cards
        on cards.company_id = best.company_id and cards.id = best.client_id
    left join record_contacts
        on record_contacts.company_id = best.company_id and record_contacts.client_id = best.client_id
    left join bookings_ahead
        on bookings_ahead.company_id = best.company_id and bookings_ahead.client_id = best.client_id
    where bookings_ahead.client_id is null
),

phones as (
    select
        contacts.*,
        case
            when length(digits) = 11 and left(digits, 1) = '8' then '7' || substr(digits, 2)
            else nullif(digits, '')
        end as phone_digits
    from contacts
)

select
    company_id,
    client_id,
    client_name,
    '+' || phone_digits as phone,
    service_id,
    service_title,
    category,
    last_visit_date,
    interval_days,
    interval_level,
    interval_count,
    days_since,
    overdue_ratio,
    tone,
    cycle_id
from phones
where coalesce(length(phone_digits) between 11 and 15, false)
    and not is_deleted
    and not has_sms_opt_out
