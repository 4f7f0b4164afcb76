{#- Before an incremental run of int_client_contacts: delete the contacts whose client has neither a card nor a
    record any more. Cards are never deleted, so only a client without a card can vanish, and only when the
    record its contact came from (`source_record_id`) changed to another client or to none. Only these rows
    are deleted here: the model finds the other clients to recompute through the stored `source_record_id`,
    so their rows must still be there when it runs (delete+insert then replaces them). -#}
{% macro delete_vanished_client_contacts() -%}
    {%- if is_incremental() -%}
    delete from {{ this }}
    where exists (
        select 1
        from {{ ref('stg_yclients__records') }} as changed
        where changed.company_id = {{ this }}.company_id
            and changed.record_id = {{ this }}.source_record_id
            and changed.batch_id > {{ batch_watermark() }}
            and changed.client_id is distinct from {{ this }}.client_id
    )
        and not exists (
            select 1
            from {{ ref('stg_yclients__clients') }} as cards
            where cards.company_id = {{ this }}.company_id
                and cards.client_id = {{ this }}.client_id
        )
        and not exists (
            select 1
            from {{ ref('stg_yclients__records') }} as client_records
            where client_records.company_id = {{ this }}.company_id
                and client_records.client_id = {{ this }}.client_id
        )
    {%- endif -%}
{%- endmacro %}
