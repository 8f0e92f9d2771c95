"""Whether a YAML text may be a deployment file, told from its text alone.

A deployment file has ``accounts:`` at its top level; a flow never has. A file without
``accounts:`` (misspelt, say) is still one when its top level has a key only deployment
files have (``store:``, ``server:``, ...) and none of a flow's: its problems are then
worded as a deployment file's, as ``serve`` words them. A file whose content cannot tell
(empty, or only ``~``) is one when named like one (``deploy.yaml``,
``deploy.example.yaml``, ``deployment-prod.yml``). The deployment loader
(:func:`ucwa_flow.deploy.is_deployment_file`) decides for sure, but importing it brings
in the store and the service; ``ucwa-flow validate`` looks here first, so that checking
flows does not pay for that.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = [
    "DEPLOYMENT_KEYS",
    "FLOW_KEYS",
    "TOP_LEVEL_ACCOUNTS",
    "deployment_by_keys",
    "deployment_by_lines",
    "deployment_by_name",
    "may_be_deployment",
]

#: the top-level keys of a deployment file (``schemas/deploy.schema.json``)
DEPLOYMENT_KEYS = frozenset(
    ("accounts", "admin", "logging", "retention", "server", "stop_timeout", "store", "workers")
)
#: the top-level keys of a flow (``schemas/flow.schema.json``); none is a deployment's
FLOW_KEYS = frozenset(
    (
        "commands",
        "description",
        "include",
        "invitation",
        "name",
        "outbound",
        "secrets",
        "settings",
        "start",
        "states",
        "variables",
        "version",
    )
)

#: a line that starts the top-level key ``accounts`` (block or flow style, quoted or not;
#: at the line's start: an indented ``accounts:`` is some other mapping's key)
TOP_LEVEL_ACCOUNTS = re.compile(r"""^(?:\{[ \t]*)?["']?accounts["']?[ \t]*:""", re.MULTILINE)
#: a line that starts any top-level key only deployment files have
_TOP_LEVEL_DEPLOYMENT = re.compile(
    r"""^(?:\{[ \t]*)?["']?(?:""" + "|".join(sorted(DEPLOYMENT_KEYS)) + r""")["']?[ \t]*:""",
    re.MULTILINE,
)
#: the name of a deployment file: deploy or deployment, then nothing, or a part after a
#: dot, hyphen or underscore (``deploy.example.yaml``); ``*.flow.yaml`` and the like are not
_DEPLOYMENT_NAME = re.compile(r"deploy(?:ment)?(?:[.\-_][^/\\]*)?\.ya?ml", re.IGNORECASE)
_OTHER_FILES = tuple(
    f".{kind}.{ext}" for kind in ("flow", "subflow", "states", "test") for ext in ("yaml", "yml")
)
#: a line that starts a top-level key (block style), for a text whose YAML is broken
_TOP_LEVEL_KEY = re.compile(r"""^["']?([A-Za-z_][\w-]*)["']?\s*:""", re.MULTILINE)


def may_be_deployment(text: str) -> bool:
    """``False`` when ``text`` surely is not a deployment file (the common case, a flow)."""
    return _TOP_LEVEL_DEPLOYMENT.search(text) is not None


def deployment_by_keys(keys: Iterable[object]) -> bool:
    """Whether a mapping with these top-level ``keys`` is a deployment file: it has
    ``accounts``, or a key only deployment files have and no key of a flow's."""
    found = {key for key in keys if isinstance(key, str)}
    if "accounts" in found:
        return True
    return bool(found & DEPLOYMENT_KEYS) and not found & FLOW_KEYS


def deployment_by_lines(text: str) -> bool:
    """:func:`deployment_by_keys` for a text whose YAML does not parse: its top-level
    keys are the lines that start with one."""
    if TOP_LEVEL_ACCOUNTS.search(text) is not None:
        return True
    return deployment_by_keys(_TOP_LEVEL_KEY.findall(text))


def deployment_by_name(file: str) -> bool:
    """Whether ``file`` is named like a deployment file (``deploy.yaml``,
    ``deploy.example.yaml``): for a file whose content cannot tell, one that is empty
    or holds only ``~``."""
    name = re.split(r"[/\\]", file)[-1]
    if name.lower().endswith(_OTHER_FILES):
        return False
    return _DEPLOYMENT_NAME.fullmatch(name) is not None
