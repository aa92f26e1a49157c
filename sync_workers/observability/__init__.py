"""Monitoring and alerting: Sentry (errors, beat monitors, dead-letter alerts) and Prometheus."""
