{#- One row per company and service that is on the menu or was ever booked, with its category.
    A booked service missing from the menu takes the title of its latest appointment (latest visit, then
    highest record id, then first line), kept with the line it came from.
    Incremental: the table is small (one row per service), so every run rewrites all of it; what is expensive is
    finding the latest booked title, and that reads only the lines of records changed since the model was built
    (`batch_id`): a stored latest line whose record did not change stays the latest unless a changed line beats
    it. A service whose stored latest line changed (moved back in time, lost its client or the service) is
    recounted from all its lines. Rows not rewritten (a service no longer booked nor on the menu) are deleted by
    the post-hook. -#}
{{
    config(
        materialized=keyed_incremental(),
        incremental_strategy='delete+insert',
        unique_key=['company_id', 'service_id'],
        on_schema_change='fail',
        post_hook="{{ delete_service_categories_not_rewritten() }}",
        indexes=postgres_indexes([
            {'columns': ['company_id', 'service_id'], 'unique': True},
        ]),
    )
}}

with services as (
    select * from {{ ref('stg_yclients__services') }}
),

record_services as (
    select * from {{ ref('stg_yclients__record_services') }}
),

rules as (
    select * from {{ ref('service_category_rules') }}
),

{% if is_incremental() %}
previous_categories as (
    select * from {{ this }}
),
{% endif %}

changed_records as (
    select *
    from {{ ref('stg_yclients__records') }}
    {% if is_incremental() %}
    where batch_id > {{ batch_watermark() }}
    {% endif %}
),

{% if is_incremental() %}
recounted_services as (
    -- the stored latest line belongs to a changed record: it may no longer be the latest, or no longer usable
    select previous_categories.company_id, previous_categories.service_id
    from previous_categories
    inner join changed_records
        on changed_records.company_id = previous_categories.company_id
        and changed_records.record_id = previous_categories.latest_booked_record_id
    union
    -- left the menu: its booked title was never tracked
    select previous_categories.company_id, previous_categories.service_id
    from previous_categories
    left join services
        on services.company_id = previous_categories.company_id
        and services.service_id = previous_categories.service_id
    where previous_categories.is_on_menu
        and services.service_id is null
),
{% endif %}

-- only a service missing from the menu needs a booked title: its lines are a sliver of all lines, so they are
-- picked before the join with the records (a full build otherwise joined every line with every record)
unlisted_lines as (
    select record_services.*
    from record_services
    left join services
        on services.company_id = record_services.company_id
        and services.service_id = record_services.service_id
    where record_services.service_id is not null
        and services.service_id is null
),

booked_lines as (
    select
        unlisted_lines.company_id,
        unlisted_lines.service_id,
        unlisted_lines.service_title,
        changed_records.visit_at,
        changed_records.record_id,
        unlisted_lines.line_position
    from changed_records
    inner join unlisted_lines
        on unlisted_lines.company_id = changed_records.company_id
        and unlisted_lines.record_id = changed_records.record_id
    where changed_records.client_id is not null
        and changed_records.visit_at is not null
    {% if is_incremental() %}
    union
    select
        record_services.company_id,
        record_services.service_id,
        record_services.service_title,
        records.visit_at,
        records.record_id,
        record_services.line_position
    -- staging read directly here: a CTE read twice is materialised whole by PostgreSQL, which would turn these
    -- lookups of a few services' lines into a scan of every line and record
    from recounted_services
    inner join {{ ref('stg_yclients__record_services') }} as record_services
        on record_services.company_id = recounted_services.company_id
        and record_services.service_id = recounted_services.service_id
    inner join {{ ref('stg_yclients__records') }} as records
        on records.company_id = record_services.company_id
        and records.record_id = record_services.record_id
    where records.client_id is not null
        and records.visit_at is not null
    union
    -- the stored latest line of every other service: its record did not change, so it is still a candidate
    select
        previous_categories.company_id,
        previous_categories.service_id,
        previous_categories.service_title,
        previous_categories.latest_booked_visit_at,
        previous_categories.latest_booked_record_id,
        previous_categories.latest_booked_line_position
    from previous_categories
    left join recounted_services
        on recounted_services.company_id = previous_categories.company_id
        and recounted_services.service_id = previous_categories.service_id
    where previous_categories.latest_booked_record_id is not null
        and recounted_services.service_id is null
    {% endif %}
),

unlisted_booked as (
    select
        booked_lines.*,
        row_number() over (
            partition by booked_lines.company_id, booked_lines.service_id
            order by booked_lines.visit_at desc, booked_lines.record_id desc, booked_lines.line_position
        ) as recency_rank
    from booked_lines
    left join services
        on services.company_id = booked_lines.company_id
        and services.service_id = booked_lines.service_id
    where services.service_id is null
),

catalogue as (
    select
        company_id,
        service_id,
        service_title,
        category_title,
        true as is_on_menu,
        cast(null as timestamp with time zone) as latest_booked_visit_at,
        cast(null as bigint) as latest_booked_record_id,
        cast(null as integer) as latest_booked_line_position
    from services
    union all
    select
        company_id,
        service_id,
        service_title,
        cast(null as varchar) as category_title,
        false as is_on_menu,
        visit_at as latest_booked_visit_at,
        record_id as latest_booked_record_id,
        line_position as latest_booked_line_position
    from unlisted_booked
    where recency_rank = 1
),

-- both titles matched in one pass: the service title's best keyword wins, the category title's only when the
-- service title matches nothing (lowest priority, then the longest keyword, then the category name)
titles as (
    select company_id, service_id, 'service_title' as matched_on, 1 as title_rank, service_title as title
    from catalogue
    union all
    select company_id, service_id, 'category_title' as matched_on, 2 as title_rank, category_title as title
    from catalogue
),

title_matches as (
    select
        titles.company_id,
        titles.service_id,
        titles.matched_on,
        rules.category,
        row_number() over (
            partition by titles.company_id, titles.service_id
            order by titles.title_rank, rules.priority, length(rules.keyword) desc, rules.category
        ) as match_rank
    from titles
    inner join rules
        on {{ dbt.position('rules.keyword', 'lower(titles.title)') }} > 0
),

categorised as (
    select
        catalogue.*,
        title_matches.category,
        title_matches.matched_on as category_matched_on
    from catalogue
    left join title_matches
        on title_matches.company_id = catalogue.company_id
        and title_matches.service_id = catalogue.service_id
        and title_matches.match_rank = 1
),

final as (
    select
        categorised.company_id,
        categorised.service_id,
        categorised.service_title,
        categorised.category_title,
        categorised.is_on_menu,
        categorised.category,
        categorised.category_matched_on,
        categorised.latest_booked_visit_at,
        categorised.latest_booked_record_id,
        categorised.latest_booked_line_position,
        -- the newest record batch read: every row is rewritten each run, so all rows carry the watermark (read
        -- from staging, not changed_records: a CTE read twice is materialised whole by PostgreSQL, every column of
        -- every record on a full build)
        (
            select coalesce(max(batch_id), {{ batch_watermark() if is_incremental() else 0 }})
            from {{ ref('stg_yclients__records') }}
            {% if is_incremental() %}
            where batch_id > {{ batch_watermark() }}
            {% endif %}
        ) as batch_id
    from categorised
)

select * from final
