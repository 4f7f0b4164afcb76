{#- One row per company, send week, campaign, tone, interval level, variant, predicted segment, channel and composer: treated
    messages, their conversions and revenue, the holdout group's rate for the same company, week, campaign (each draws its
    own holdout), tone, level, variant and segment, and
    the absolute uplift with a 95 % interval (two-proportion normal approximation, unpooled standard error).
    Rates count only messages whose attribution window is complete as of the as-of date. `conversion_rate` is the
    intention-to-treat rate (every exposed treated row: sent, cancelled at send time, rejected or unreviewed in
    review mode) and the uplift compares it with the holdout; `sent_conversion_rate` counts sent messages only. -#}
with outcomes as (
    select
        *,
        {{ dbt.date_trunc('week', 'exposed_date') }} as send_week,
        -- rows queued before the return outlook existed have no segment: they form their own cell
        coalesce(predicted_segment, 'unknown') as outlook_segment
    from {{ ref('message_outcomes') }}
    where is_exposed
),

treated as (
    select
        company_id,
        send_week,
        campaign,
        tone,
        interval_level,
        variant,
        outlook_segment,
        channel,
        composer,
        count(*) as messages,
        sum(case when is_window_complete then 1 else 0 end) as matured_messages,
        sum(case when is_window_complete and is_converted then 1 else 0 end) as conversions,
        sum(case when status = 'sent' then 1 else 0 end) as sent_messages,
        sum(case when status = 'sent' and is_window_complete then 1 else 0 end) as sent_matured,
        sum(case when status = 'sent' and is_window_complete and is_converted then 1 else 0 end) as sent_conversions,
        sum(case when status = 'rejected' then 1 else 0 end) as rejected_messages,
        sum(attended_revenue) as revenue,
        avg(case when is_converted then days_to_booking end) as avg_days_to_booking
    from outcomes
    where not is_holdout
    group by company_id, send_week, campaign, tone, interval_level, variant, outlook_segment, channel, composer
),

holdout as (
    select
        company_id,
        send_week,
        campaign,
        tone,
        interval_level,
        variant,
        outlook_segment,
        count(*) as holdout_clients,
        sum(case when is_window_complete then 1 else 0 end) as holdout_matured,
        sum(case when is_window_complete and is_converted then 1 else 0 end) as holdout_conversions
    from outcomes
    where is_holdout
    group by company_id, send_week, campaign, tone, interval_level, variant, outlook_segment
),

rates as (
    select
        treated.*,
        coalesce(holdout.holdout_clients, 0) as holdout_clients,
        coalesce(holdout.holdout_matured, 0) as holdout_matured,
        coalesce(holdout.holdout_conversions, 0) as holdout_conversions,
        cast(treated.conversions as double precision) / nullif(treated.matured_messages, 0) as conversion_rate,
        cast(treated.sent_conversions as double precision) / nullif(treated.sent_matured, 0) as sent_conversion_rate,
        cast(holdout.holdout_conversions as double precision) / nullif(holdout.holdout_matured, 0) as holdout_rate
    from treated
    left join holdout
        on holdout.company_id = treated.company_id
        and holdout.send_week = treated.send_week
        and holdout.campaign = treated.campaign
        and holdout.tone = treated.tone
        and holdout.interval_level = treated.interval_level
        and holdout.variant = treated.variant
        and holdout.outlook_segment = treated.outlook_segment
),

uplift as (
    select
        *,
        conversion_rate - holdout_rate as uplift,
        sqrt(
            conversion_rate * (1 - conversion_rate) / nullif(matured_messages, 0)
            + holdout_rate * (1 - holdout_rate) / nullif(holdout_matured, 0)
        ) as uplift_standard_error
    from rates
),

final as (
    select
        company_id,
        cast(send_week as date) as send_week,
        campaign,
        tone,
        interval_level,
        variant,
        outlook_segment as predicted_segment,
        channel,
        composer,
        messages,
        matured_messages,
        conversions,
        conversion_rate,
        sent_messages,
        sent_matured,
        sent_conversions,
        sent_conversion_rate,
        rejected_messages,
        cast(revenue as double precision) as revenue,
        cast(revenue as double precision) / nullif(messages, 0) as revenue_per_message,
        avg_days_to_booking,
        holdout_clients,
        holdout_matured,
        holdout_conversions,
        holdout_rate,
        uplift,
        uplift - {{ var('confidence_z') }} * uplift_standard_error as uplift_ci_low,
        uplift + {{ var('confidence_z') }} * uplift_standard_error as uplift_ci_high,
        matured_messages < {{ var('min_sample_per_group') }}
            or holdout_matured < {{ var('min_sample_per_group') }} as is_sample_too_small
    from uplift
)

select * from final
