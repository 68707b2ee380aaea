"""Analytics: the event lake, the one registry of metrics, KPI checks, dashboards and exports."""
