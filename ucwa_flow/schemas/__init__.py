"""Data files shipped with ucwa-flow: ``flow.schema.json``, identical to ``schemas/flow.schema.json``."""
