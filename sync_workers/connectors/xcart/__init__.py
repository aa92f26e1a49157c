"""X-Cart 5.5+ REST client (API Platform under ``/api``, ``X-Auth-Token`` auth)."""
