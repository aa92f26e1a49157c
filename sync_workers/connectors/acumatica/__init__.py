"""Acumatica contract-based REST and OData client with a fleet-wide session pool."""
