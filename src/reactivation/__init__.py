"""reactivation: win back lapsed clients of appointment businesses booked through YClients."""

import os

# Telemetry off before any library that phones home is imported.
for _name, _value in {
    "DO_NOT_TRACK": "1",
    "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    "GX_ANALYTICS_ENABLED": "False",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    # Prefect's temporary server (ephemeral mode) gets 20 s by default: too short on a busy 2-core machine
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
}.items():
    os.environ.setdefault(_name, _value)

__version__ = "0.1.0"
