"""Data files shipped with ucwa-flow.

``flow.schema.json`` here is byte-identical to ``schemas/flow.schema.json``.
"""
