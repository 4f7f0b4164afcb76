"""Prefect flows: `daily` (refresh, gate, queue, send), `deliver` (the 15-minute sender) and `serve` (deployments).

Composition only: every rule lives in the modules of `reactivation`; a flow module orders their calls.
"""
