"""Mapping between X-Cart and Acumatica records: declarative templates and pure transforms.

Templates (``templates/<flow>.yaml``) hold every value an integrator may change: field and value
maps, defaults, per-store settings. The modules beside them are pure functions from one system's
record to the other's; they never do I/O.
"""
