"""Which store a command opens: ``--state PATH``, ``--store URL``, ``UCWA_FLOW_STORE``, or
the account's default file.

Every command that reads or writes the conversation store (``run``, ``transcripts``) picks
it by the same rules, :func:`resolve_store_target`:

1. ``--state PATH``: a SQLite file;
2. ``--store URL``: a PostgreSQL server (``postgresql://`` or ``postgres://``);
3. else the environment variable ``UCWA_FLOW_STORE``: a URL, or the path of a SQLite file;
4. else, with ``--account SIP``, that account's default SQLite file,
   :func:`~ucwa_flow.store.default_state_path`.

``--state`` and ``--store`` together are a usage error, as is a ``--store`` that is not a
PostgreSQL URL (it says to use ``--state`` for a file). A command that only reads
(``must_exist=True``) refuses a SQLite file that does not exist, in one line naming it:
opening it would create an empty store and then report, misleadingly, that it is empty.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import click

from ucwa_flow.errors import UnreadableFileError
from ucwa_flow.store import default_state_path, is_postgres_url

__all__ = ["STORE_ENV", "resolve_store_target", "sip_account"]

#: the environment variable naming the store when no option does
STORE_ENV = "UCWA_FLOW_STORE"


def sip_account(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    """An ``--account`` option as the store keys it: ``sip:`` added when missing, as the bot
    adds it to its ``--user`` (else ``--account bot@contoso.com`` matches nothing)."""
    if value is None:
        return None
    value = value.strip()
    return value if value.lower().startswith("sip:") else f"sip:{value}"


def resolve_store_target(
    state: str | os.PathLike[str] | None,
    store: str | None,
    env: Mapping[str, str],
    account: str | None,
    *,
    must_exist: bool = False,
    folders: bool = False,
) -> str:
    """The store to open (a file path or a PostgreSQL URL), as :func:`open_store` takes it.
    With ``folders`` (a command with ``--account``), ``--state`` may name a deployment's
    store folder, and ``account``'s file there is taken.

    ``state`` and ``store`` are the command's ``--state`` and ``--store`` values, ``env`` the
    environment (``os.environ``), ``account`` the bot account, if the command knows it.
    Raises :class:`click.UsageError` (exit status 2) for options that do not fit together or
    name no store, and :class:`~ucwa_flow.errors.UnreadableFileError` (status 2) for a
    missing SQLite file when ``must_exist``.
    """
    if state is not None and store is not None:
        raise click.UsageError(
            "give --state PATH (a SQLite file) or --store URL (PostgreSQL), not both"
        )
    if store is not None:
        if not is_postgres_url(store):
            raise click.UsageError(
                f"--store takes a postgresql:// URL, not {store!r}; "
                "for a SQLite file use --state PATH"
            )
        return store
    if state is not None:
        path = Path(state).expanduser()
        if path.is_dir():  # a deployment's store folder: one file per account
            return _in_folder(path, account if folders else None, must_exist, folders)
        return _sqlite(path, must_exist, "")
    from_env = env.get(STORE_ENV, "").strip()
    if from_env:
        if is_postgres_url(from_env):
            return from_env
        if "://" in from_env:  # not a file name: a SQLite file "x" in a folder "mysql:"
            raise click.UsageError(
                f"{STORE_ENV} takes a postgresql:// URL or the path of a SQLite file, "
                f"not {from_env!r}"
            )
        return _sqlite(Path(from_env).expanduser(), must_exist, f" (from {STORE_ENV})")
    if account:
        return _sqlite(default_state_path(account), must_exist, f" (the default for {account})")
    raise click.UsageError(
        f"which store? give --state PATH, --store URL or --account SIP (or set {STORE_ENV})"
    )


def _in_folder(folder: Path, account: str | None, must_exist: bool, folders: bool) -> str:
    """The file of ``account`` in a deployment's store ``folder`` (``serve`` names each
    account's file as :func:`default_state_path` does); without an account, a usage error
    naming the files there (and ``--account`` where the command takes a folder)."""
    if account:
        name = default_state_path(account).name
        return _sqlite(folder / name, must_exist, f" (the file of {account} in {folder})")
    files = sorted(p.name for p in folder.glob("*.sqlite3"))
    shown = ", ".join(files[:5]) + (", ..." if len(files) > 5 else "")
    hint = "add --account SIP, or give" if folders else "give"
    raise click.UsageError(
        f"{folder} is a folder (a deployment's store: one file per account); "
        f"{hint} one of its files ({shown or 'none there'})"
    )


def _sqlite(path: Path, must_exist: bool, origin: str) -> str:
    if must_exist and not path.exists():
        raise UnreadableFileError(f"{path}: no such store file{origin}")
    return str(path)
