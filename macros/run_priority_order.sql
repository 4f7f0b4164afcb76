{#- The order in which the per-run cap takes due clients (var `run_priority`):
    - `expected_winback` (default): the highest `p_winback_needed` first (int_return_outlook): the client is
      probably still reachable (p_active) and probably will not come back on their own within
      `outlook_horizon_days` (the message is needed). A regular client just past their rhythm may well return
      unprompted; a year-old backlog is probably gone; both go after the clients in between. Then the
      `expected_value` order breaks ties.
    - `expected_value`: clients whose chances are best first. Just due (gentle) and offer-tone clients
      come back far more often than a year-old backlog, so they go before win_back; within a tone the least
      overdue first, so a client who just became due is never starved by the backlog, which drains over the
      following days as capacity allows.
    - `most_overdue`: the most overdue first (the order before these rules existed).
    Ties: the more recent last visit, then the client id, so the order is stable across runs and engines. -#}
{% macro run_priority_order() %}
    {%- set order = var('run_priority') -%}
    {%- if order == 'expected_winback' -%}
        coalesce(p_winback_needed, 0) desc, case when tone = 'win_back' then 1 else 0 end, overdue_ratio, last_visit_date desc,
        client_id
    {%- elif order == 'expected_value' -%}
        case when tone = 'win_back' then 1 else 0 end, overdue_ratio, last_visit_date desc, client_id
    {%- elif order == 'most_overdue' -%}
        overdue_ratio desc, last_visit_date desc, client_id
    {%- else -%}
        {{ exceptions.raise_compiler_error(
            "var run_priority must be expected_winback, expected_value or most_overdue, not " ~ order) }}
    {%- endif -%}
{% endmacro %}
