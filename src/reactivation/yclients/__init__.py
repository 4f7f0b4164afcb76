"""YClients REST API sync: read companies, services, clients and records into the raw tables, resumably; and
the bookings changed since, right before delivery."""

from reactivation.yclients.client import (
    MalformedPage,
    Page,
    RequestBudget,
    YClientsAuthError,
    YClientsClient,
    YClientsError,
)
from reactivation.yclients.config import CompanyDefaults, YClientsConfigError, YClientsSettings
from reactivation.yclients.refresh import BookingsRefresh, refresh_bookings_before_delivery
from reactivation.yclients.sync import SyncProgress, SyncReport, sync, sync_company

__all__ = [
    "BookingsRefresh",
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
    "refresh_bookings_before_delivery",
    "sync",
    "sync_company",
]
