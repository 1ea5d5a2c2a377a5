"""Core services every part uses: settings, errors, logging, the object store, the polite HTTP client."""
