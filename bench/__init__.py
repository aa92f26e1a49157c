"""Speed and economy figures of the engine, measured against the sandboxes (``make bench``)."""
