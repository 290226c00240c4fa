"""HTTP surface: JSON API, Prometheus /metrics, status page."""
