"""Discovery, WebTicket OAuth and the user resource.

* ``GET /`` and ``GET /Autodiscover/AutodiscoverService.svc/root``: the discovery root
  (``self``, ``user``, ``xframe`` links, absolute, built from the Host the client used).
  With ``discovery_redirect`` the first answers with only a ``redirect`` link.
* ``GET .../root/oauth/user``: 401 with the IIS page and both ``WWW-Authenticate``
  headers without a valid token; with one, the ``applications`` link (on
  ``applications_host`` when configured).
* ``POST /WebTicket/oauthtoken``: the form-encoded password grant. A token is valid under
  every name of the simulated pool; with ``tokens_per_host`` only on the host name it was
  issued on (so that a client needs a new token on ``applications_host``).
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.responses import Response

from ucwa_flow.simulator.errors import UcwaErrorResponse
from ucwa_flow.simulator.http import Ctx, json_response

__all__ = ["ROOT_PATH", "USER_PATH", "challenge", "discovery", "oauth_token", "user_resource"]

ROOT_PATH = "/Autodiscover/AutodiscoverService.svc/root"
USER_PATH = ROOT_PATH + "/oauth/user"
TOKEN_PATH = "/WebTicket/oauthtoken"

_IIS_401 = (
    '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" '
    '"http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">\r\n'
    '<html xmlns="http://www.w3.org/1999/xhtml">\r\n<head>\r\n'
    "<title>401 - Unauthorized: Access is denied due to invalid credentials.</title>\r\n"
    '</head>\r\n<body>\r\n<div id="header"><h1>Server Error</h1></div>\r\n'
    '<div id="content">\r\n <div class="content-container"><fieldset>\r\n'
    "  <h2>401 - Unauthorized: Access is denied due to invalid credentials.</h2>\r\n"
    "  <h3>You do not have permission to view this directory or page using the credentials "
    "that you supplied.</h3>\r\n </fieldset></div>\r\n</div>\r\n</body>\r\n</html>\r\n"
)


def _domain(ctx: Ctx) -> str:
    users = ctx.sim.config.users
    return users[0].domain if users else "contoso.com"


def challenge(ctx: Ctx) -> Response:
    """401 with the IIS HTML page and the two ``WWW-Authenticate`` headers."""
    response = Response(_IIS_401.encode(), status_code=401, media_type="text/html")
    bearer = (
        f'Bearer trusted_issuers="00000002-0000-0ff1-ce00-000000000000@{_domain(ctx)}", '
        'client_id="00000004-0000-0ff1-ce00-000000000000"'
    )
    oauth = (
        f'MsRtcOAuth href="{ctx.base_url}{TOKEN_PATH}",'
        'grant_type="urn:microsoft.rtc:windows,urn:microsoft.rtc:anonmeeting,password"'
    )
    response.raw_headers.append((b"www-authenticate", bearer.encode()))
    response.raw_headers.append((b"www-authenticate", oauth.encode()))
    return response


async def discovery(ctx: Ctx) -> Response:
    base = ctx.base_url
    if ctx.sim.config.discovery_redirect and ctx.request.url.path in ("", "/"):
        return json_response({"_links": {"redirect": {"href": f"{base}{ROOT_PATH}"}}})
    query = f"?originalDomain={_domain(ctx)}"
    return json_response(
        {
            "_links": {
                "self": {"href": f"{base}{ROOT_PATH}{query}"},
                "user": {"href": f"{base}{USER_PATH}{query}"},
                "xframe": {"href": f"{base}/Autodiscover/XFrame/XFrame.html"},
            }
        }
    )


async def user_resource(ctx: Ctx) -> Response:
    user = ctx.sim.authenticate(ctx.request.headers.get("authorization"), ctx.host)
    if user is None:
        return challenge(ctx)
    base = ctx.base_url
    apps_host = ctx.sim.config.applications_host
    apps_base = base
    if apps_host:
        port = ctx.request.url.port
        apps_base = f"{ctx.request.url.scheme}://{apps_host}" + (f":{port}" if port else "")
    return json_response(
        {
            "_links": {
                "self": {"href": f"{base}{ROOT_PATH}/user"},
                "applications": {"href": f"{apps_base}/ucwa/oauth/v1/applications"},
                "xframe": {"href": f"{base}/Autodiscover/XFrame/XFrame.html"},
            }
        }
    )


def _token_error(error: str, reason: str, code: int) -> Response:
    return json_response(
        {"error": error},
        status=400,
        headers={
            "X-Ms-diagnostics": f'{code};source="{TOKEN_PATH}";reason="{reason}"',
            "Cache-Control": "no-store",
        },
    )


async def oauth_token(ctx: Ctx) -> Response:
    media = ctx.request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != "application/x-www-form-urlencoded":
        raise UcwaErrorResponse(
            415, "UnsupportedMediaType", None, "Use application/x-www-form-urlencoded."
        )
    raw = (await ctx.request.body()).decode("utf-8", errors="replace")
    form = dict(parse_qsl(raw, keep_blank_values=True))
    grant = form.get("grant_type")
    if not grant:
        return _token_error("invalid_request", "The grant_type is missing.", 28032)
    if grant != "password":
        return _token_error("unsupported_grant_type", "Authentication type not allowed.", 28029)
    username, password = form.get("username", ""), form.get("password", "")
    user = ctx.sim.find_user(username) if username else None
    if user is None or user.password != password:
        return _token_error("invalid_grant", "The user name or password is incorrect.", 28020)
    token = ctx.sim.issue_token(user, ctx.host)
    return json_response(
        {
            "access_token": token.value,
            "expires_in": int(ctx.sim.config.token_lifetime),
            "ms_rtc_identityscope": "local",
            "token_type": "Bearer",
        },
        headers={"Cache-Control": "no-store"},
    )
