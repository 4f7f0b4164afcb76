{#- One row per company and client known from the client cards or from records: name, normalised phone,
    and the flags that stop messaging. The card wins; a client without a card takes the client object of
    their most recently changed record (`source_record_id`).
    Incremental (delete+insert by client): a run recomputes only the clients an ingest batch newer than the
    model touched: a changed card, the client a changed record now belongs to, and the client whose
    `source_record_id` changed (it may have moved to another client or lost its client, so that client's
    latest record is another one now). Every other client keeps the same card and the same latest record.
    A client left with neither card nor record is deleted by the pre-hook. -#}
{{
    config(
        materialized=keyed_incremental(),
        incremental_strategy='delete+insert',
        unique_key=['company_id', 'client_id'],
        on_schema_change='fail',
        pre_hook=["{{ delete_vanished_client_contacts() }}", "{{ sequential_scans_on_full_build() }}"],
        indexes=postgres_indexes([
            {'columns': ['company_id', 'client_id'], 'unique': True},
            {'columns': ['company_id', 'source_record_id']},
            {'columns': ['batch_id']},
        ]),
    )
}}

with clients as (
    select * from {{ ref('stg_yclients__clients') }}
),

records as (
    select * from {{ ref('stg_yclients__records') }}
),

{% if is_incremental() %}
previous_contacts as (
    select * from {{ this }}
),

-- the changed rows are read straight from staging, not from the CTEs above: a CTE read twice is materialised
-- whole by PostgreSQL, which would turn each lookup below into a scan of every record
changed_records as (
    select company_id, record_id, client_id
    from {{ ref('stg_yclients__records') }}
    where batch_id > {{ batch_watermark() }}
),

changed_cards as (
    select company_id, client_id
    from {{ ref('stg_yclients__clients') }}
    where batch_id > {{ batch_watermark() }}
),

affected_clients as (
    select company_id, client_id
    from changed_cards
    union
    select company_id, client_id
    from changed_records
    where client_id is not null
    union
    -- the record this contact came from changed: it may belong to someone else now
    select previous_contacts.company_id, previous_contacts.client_id
    from previous_contacts
    inner join changed_records
        on changed_records.company_id = previous_contacts.company_id
        and changed_records.record_id = previous_contacts.source_record_id
),
{% endif %}

cards as (
    select clients.*
    from clients
    {% if is_incremental() %}
    inner join affected_clients
        on affected_clients.company_id = clients.company_id
        and affected_clients.client_id = clients.client_id
    {% endif %}
),

client_records as (
    select records.*
    from records
    {% if is_incremental() %}
    inner join affected_clients
        on affected_clients.company_id = records.company_id
        and affected_clients.client_id = records.client_id
    {% endif %}
    where records.client_id is not null
),

latest_record_contact as (
    select
        company_id,
        client_id,
        record_id,
        client_name,
        client_phone_raw,
        batch_id,
        row_number() over (
            partition by company_id, client_id
            order by last_change_at desc nulls last, record_id desc
        ) as recency_rank
    from client_records
),

card_or_record as (
    select
        coalesce(cards.company_id, latest_record_contact.company_id) as company_id,
        coalesce(cards.client_id, latest_record_contact.client_id) as client_id,
        cards.client_id is not null as has_client_card,
        case when cards.client_id is not null then cards.client_name else latest_record_contact.client_name end
            as client_name,
        case when cards.client_id is not null then cards.phone_raw else latest_record_contact.client_phone_raw end
            as phone_raw,
        coalesce(cards.is_deleted, false) as is_deleted,
        coalesce(cards.has_sms_opt_out, false) as has_sms_opt_out,
        latest_record_contact.record_id as source_record_id,
        -- the newest batch among the card and the latest record: the watermark (coalesce: either may be missing)
        greatest(
            coalesce(cards.batch_id, latest_record_contact.batch_id),
            coalesce(latest_record_contact.batch_id, cards.batch_id)
        ) as batch_id
    from cards
    full outer join (select * from latest_record_contact where recency_rank = 1) as latest_record_contact
        on latest_record_contact.company_id = cards.company_id
        and latest_record_contact.client_id = cards.client_id
),

-- the regexp runs once per client here (see macros/phone.sql); the checks below read the stored digits
raw_digits as (
    select
        *,
        {{ digits_only('phone_raw') }} as phone_raw_digits
    from card_or_record
    {{ evaluate_once() }}
),

normalised as (
    select
        *,
        {{ normalise_phone_digits('phone_raw_digits') }} as phone_digits
    from raw_digits
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
        has_sms_opt_out,
        source_record_id,
        batch_id
    from normalised
)

select * from final
