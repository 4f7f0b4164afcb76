{#- One row per company and service that is on the menu or was ever booked, with its category.
    A booked service missing from the menu takes the title of its latest appointment. -#}
with services as (
    select * from {{ ref('stg_yclients__services') }}
),

record_services as (
    select * from {{ ref('stg_yclients__record_services') }}
),

records as (
    select * from {{ ref('stg_yclients__records') }}
),

rules as (
    select * from {{ ref('service_category_rules') }}
),

unlisted_booked as (
    select
        record_services.company_id,
        record_services.service_id,
        record_services.service_title,
        row_number() over (
            partition by record_services.company_id, record_services.service_id
            order by records.visit_at desc, records.record_id desc, record_services.line_position
        ) as recency_rank
    from record_services
    inner join records
        on records.company_id = record_services.company_id
        and records.record_id = record_services.record_id
    left join services
        on services.company_id = record_services.company_id
        and services.service_id = record_services.service_id
    where record_services.service_id is not null
        and records.client_id is not null
        and records.visit_at is not null
        and services.service_id is null
),

catalogue as (
    select company_id, service_id, service_title, category_title, true as is_on_menu
    from services
    union all
    select company_id, service_id, service_title, cast(null as varchar) as category_title, false as is_on_menu
    from unlisted_booked
    where recency_rank = 1
),

title_matches as (
    select
        catalogue.company_id,
        catalogue.service_id,
        rules.category,
        row_number() over (
            partition by catalogue.company_id, catalogue.service_id
            order by rules.priority, length(rules.keyword) desc, rules.category
        ) as match_rank
    from catalogue
    inner join rules
        on {{ dbt.position('rules.keyword', 'lower(catalogue.service_title)') }} > 0
),

category_title_matches as (
    select
        catalogue.company_id,
        catalogue.service_id,
        rules.category,
        row_number() over (
            partition by catalogue.company_id, catalogue.service_id
            order by rules.priority, length(rules.keyword) desc, rules.category
        ) as match_rank
    from catalogue
    inner join rules
        on {{ dbt.position('rules.keyword', 'lower(catalogue.category_title)') }} > 0
),

final as (
    select
        catalogue.company_id,
        catalogue.service_id,
        catalogue.service_title,
        catalogue.category_title,
        catalogue.is_on_menu,
        coalesce(title_matches.category, category_title_matches.category) as category,
        case
            when title_matches.category is not null then 'service_title'
            when category_title_matches.category is not null then 'category_title'
        end as category_matched_on
    from catalogue
    left join title_matches
        on title_matches.company_id = catalogue.company_id
        and title_matches.service_id = catalogue.service_id
        and title_matches.match_rank = 1
    left join category_title_matches
        on category_title_matches.company_id = catalogue.company_id
        and category_title_matches.service_id = catalogue.service_id
        and category_title_matches.match_rank = 1
)

select * from final
