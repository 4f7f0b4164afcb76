with source as (
    select * from {{ source('yclients', 'raw_yclients_companies') }}
),

renamed as (
    select
        ---------- ids
        company_id,
        ---------- strings
        coalesce(nullif(trim(name), ''), 'company ' || cast(company_id as varchar)) as company_name,
        coalesce(nullif(trim(timezone), ''), '{{ var("default_timezone") }}') as timezone,
        lower(coalesce(nullif(trim(locale), ''), 'ru')) as locale,
        upper(coalesce(nullif(trim(country), ''), 'RU')) as country,
        nullif(trim(booking_url), '') as booking_url,
        ---------- timestamps
        _loaded_at as loaded_at
    from source
)

select * from renamed
