{#- One row per company and client known from the client cards or from records: name, normalised phone,
    and the flags that stop messaging. The card wins; a client without a card takes the client object of
    their most recently changed record. -#}
with clients as (
    select * from {{ ref('stg_yclients__clients') }}
),

records as (
    select * from {{ ref('stg_yclients__records') }}
),

latest_record_contact as (
    select
        company_id,
        client_id,
        client_name,
        client_phone_raw,
        row_number() over (
            partition by company_id, client_id
            order by last_change_at desc nulls last, record_id desc
        ) as recency_rank
    from records
    where client_id is not null
),

card_or_record as (
    select
        coalesce(clients.company_id, latest_record_contact.company_id) as company_id,
        coalesce(clients.client_id, latest_record_contact.client_id) as client_id,
        clients.client_id is not null as has_client_card,
        case when clients.client_id is not null then clients.client_name else latest_record_contact.client_name end
            as client_name,
        case when clients.client_id is not null then clients.phone_raw else latest_record_contact.client_phone_raw end
            as phone_raw,
        coalesce(clients.is_deleted, false) as is_deleted,
        coalesce(clients.has_sms_opt_out, false) as has_sms_opt_out
    from clients
    full outer join (select * from latest_record_contact where recency_rank = 1) as latest_record_contact
        on latest_record_contact.company_id = clients.company_id
        and latest_record_contact.client_id = clients.client_id
),

normalised as (
    select
        *,
        {{ normalise_phone('phone_raw') }} as phone_digits
    from card_or_record
),

final as (
    select
        company_id,
        client_id,
        has_client_card,
        client_name,
        phone_raw,
        case when {{ is_valid_phone('phone_digits') }} then '+' || phone_digits end as phone,
        {{ is_valid_phone('phone_digits') }} as has_valid_phone,
        is_deleted,
        has_sms_opt_out
    from normalised
)

select * from final
