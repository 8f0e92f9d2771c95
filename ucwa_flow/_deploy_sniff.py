"""Whether a YAML text may be a deployment file, told from its text alone.

A deployment file has ``accounts:`` at its top level; a flow never has. The deployment
loader (:func:`ucwa_flow.deploy.is_deployment_file`) decides for sure, but importing it
brings in the store and the service; ``ucwa-flow validate`` looks here first, so that
checking flows does not pay for that.
"""

from __future__ import annotations

import re

__all__ = ["TOP_LEVEL_ACCOUNTS", "may_be_deployment"]

#: a line that starts the top-level key ``accounts`` (block or flow style, quoted or not)
TOP_LEVEL_ACCOUNTS = re.compile(r"""^\{?\s*["']?accounts["']?\s*:""", re.MULTILINE)


def may_be_deployment(text: str) -> bool:
    """``False`` when ``text`` surely is not a deployment file (the common case, a flow)."""
    return TOP_LEVEL_ACCOUNTS.search(text) is not None
