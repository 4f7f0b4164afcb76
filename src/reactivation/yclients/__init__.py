"""YClients REST API sync: read companies, services, clients and records into the raw tables, resumably."""

from reactivation.yclients.client import (
    MalformedPage,
    Page,
    RequestBudget,
    YClientsAuthError,
    YClientsClient,
    YClientsError,
)
from reactivation.yclients.config import CompanyDefaults, YClientsConfigError, YClientsSettings
from reactivation.yclients.sync import SyncProgress, SyncReport, sync, sync_company

__all__ = [
    "CompanyDefaults",
    "MalformedPage",
    "Page",
    "RequestBudget",
    "SyncProgress",
    "SyncReport",
    "YClientsAuthError",
    "YClientsClient",
    "YClientsConfigError",
    "YClientsError",
    "YClientsSettings",
    "sync",
    "sync_company",
]
