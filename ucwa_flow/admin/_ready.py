"""The body of ``/readyz``: :func:`readyz_body`.

Kept as it was for what scrapes it (``ready``, ``store``, and each account's ``id``,
``user``, ``signed_in``, ``channel_live``, ``error``), with why as data besides:

* each account's ``code`` (a short, stable word: ``ready``, ``signing_in`` ...) and
  ``reason`` (a sentence), and ``until`` when what it says ends at a known time;
* ``reasons``: every reason the process is not ready, each a ``code`` and a ``reason``:
  the process's own (``store_unreachable``, ``waiting_for_store``, ``away``, ``joining``,
  ``stopping`` ..., with ``since`` or ``until`` when known) first, then one per account
  not ready (with its ``account``). Empty exactly when ``ready`` is true;
* ``elsewhere``: the accounts a worker does not answer for, each with its ``code`` and
  ``reason`` (``held_elsewhere`` with the ``worker``, ``lease_lost`` with ``since`` ...).
"""

from __future__ import annotations

from typing import Any

from ucwa_flow.admin._target import AccountHealth, Readiness

__all__ = ["readyz_body"]


def readyz_body(readiness: Readiness) -> dict[str, Any]:
    """The JSON body ``/readyz`` answers with (see the module docstring)."""
    accounts = [_account(account) for account in readiness.accounts]
    reasons: list[dict[str, Any]] = []
    if not readiness.ready:
        reasons = [_some(vars(why)) for why in readiness.reasons]
        for account in accounts:
            if account["code"] != "ready":
                entry = {"code": account["code"], "account": account["id"]}
                reasons.append({**entry, "reason": account["reason"]})
        if not reasons:  # a target that said no more
            what = "the store does not answer" if not readiness.store else "not ready"
            reasons.append({"code": "not_ready", "reason": what})
    return {
        "ready": readiness.ready,
        "store": readiness.store,
        "accounts": accounts,
        "reasons": reasons,
        "elsewhere": [_some(vars(other)) for other in readiness.elsewhere],
    }


def _account(account: AccountHealth) -> dict[str, Any]:
    code, reason = account.code, account.reason
    if code is None:
        code = "ready" if account.ready else "error" if account.error else "not_ready"
    if reason is None:
        reason = account.error or ("ready" if account.ready else "not ready")
    body: dict[str, Any] = {
        "id": account.id,
        "user": account.user,
        "signed_in": account.signed_in,
        "channel_live": account.channel_live,
        "error": account.error,
        "code": code,
        "reason": reason,
    }
    if account.until is not None:
        body["until"] = account.until
    return body


def _some(fields: dict[str, Any]) -> dict[str, Any]:
    """``fields`` without those that are ``None``."""
    return {name: value for name, value in fields.items() if value is not None}
