"""atum-metrics: live helpdesk metrics pushed from Postgres to dashboards."""

__version__ = "0.1.0"
