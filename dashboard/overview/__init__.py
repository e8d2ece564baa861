"""How the system is doing: stats, the charts drawn from them, service levels, Prometheus metrics."""
