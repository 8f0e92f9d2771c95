"""load_deployment: the model it builds, paths, defaults, and ${NAME} substitution."""

from __future__ import annotations

from pathlib import Path

import certifi
import pytest

from tests.deploy.conftest import WriteDeployment
from ucwa_flow.deploy import (
    AdminSpec,
    DeploymentError,
    LimitsSpec,
    SecretSource,
    load_deployment,
)

ONE = """\
accounts:
  - id: echo
    user: echo@contoso.com
    password_env: ECHO_PASSWORD
    flow: flows/echo.flow.yaml
"""


def test_a_minimal_file_and_its_defaults(write_deployment: WriteDeployment) -> None:
    path = write_deployment(ONE)
    deployment = load_deployment(path, environ={})
    assert deployment.source == path.resolve()
    assert deployment.server.url is None
    assert deployment.store is None
    assert deployment.stop_timeout == 10.0
    assert deployment.retention == 30 * 86400.0
    assert deployment.admin == AdminSpec()
    (account,) = deployment.accounts
    assert account.user == "sip:echo@contoso.com"  # sip: added
    assert account.password == SecretSource(env="ECHO_PASSWORD")
    assert [(f.name, f.path) for f in account.flows] == [
        ("echo", path.parent / "flows" / "echo.flow.yaml")
    ]
    assert account.default_flow == "echo"
    assert account.limits == LimitsSpec()
    assert account.spot is not None
    assert (account.spot.line, account.spot.column) == (2, 5)
    assert deployment.account("echo") is account
    assert deployment.account("x") is None


def test_everything_written(write_deployment: WriteDeployment, tmp_path: Path) -> None:
    path = write_deployment("""\
server:
  url: https://lyncdiscover.contoso.com
  ca_bundle: certs/ca.pem
  insecure: true
  trusted_hosts: [lyncweb.fabrikam.com, bücher.example, "2001:db8::1", "*.contoso.local"]
store: state
retention: 1w
stop_timeout: 90
admin: {listen: "[::1]:0", token_file: secrets/token, enabled: false}
logging: {format: json, level: debug}
accounts:
  - id: helpdesk
    user: sip:helpdesk@contoso.com
    password_file: /run/secrets/helpdesk
    flows:
      help: flows/helpdesk.yaml
      echo: flows/echo.flow.yaml
      survey: flows/outbound-survey.flow.yaml
    default_flow: help
    routes:
      - {flow: echo, caller: '@exec\\.contoso\\.com$', subject: '^ping', first_message: hi}
    vars: {ticket_url: https://t, agent_uri: sip:a@contoso.com}
    limits: {max_conversations: 5, max_answering: 2, when_full: ring, busy_message: Busy.}
    schedules:
      - {flow: survey, invitee: panel@contoso.com, every: 1d12h}
""")
    (tmp_path / "certs").mkdir()
    (tmp_path / "certs" / "ca.pem").write_bytes(Path(certifi.where()).read_bytes())
    d = load_deployment(path, environ={})
    assert d.server.ca_bundle == tmp_path / "certs" / "ca.pem"
    assert d.server.insecure
    assert d.server.trusted_hosts == (
        "lyncweb.fabrikam.com",
        "bücher.example",
        "2001:db8::1",
        "*.contoso.local",
    )
    assert d.store == str(tmp_path / "state")
    assert d.retention == 7 * 86400
    assert d.stop_timeout == 90
    assert d.admin == AdminSpec("::1", 0, SecretSource(file=tmp_path / "secrets/token"), False)
    assert (d.logging.format, d.logging.level) == ("json", "debug")
    (a,) = d.accounts
    assert a.password == SecretSource(file=Path("/run/secrets/helpdesk"))
    # X.yaml means X.flow.yaml, as on the command line
    assert a.flow("help").path == tmp_path / "flows" / "helpdesk.flow.yaml"
    assert [f.name for f in a.flows] == ["help", "echo", "survey"]
    (route,) = a.routes
    assert (route.flow, route.caller, route.subject, route.first_message) == (
        "echo",
        r"@exec\.contoso\.com$",
        "^ping",
        "hi",
    )
    assert a.variables == {"ticket_url": "https://t", "agent_uri": "sip:a@contoso.com"}
    assert a.limits == LimitsSpec(5, 2, "ring", "Busy.")
    (schedule,) = a.schedules
    assert (schedule.flow, schedule.invitee, schedule.every) == (
        "survey",
        "sip:panel@contoso.com",
        1.5 * 86400,
    )


def test_a_postgres_store_is_kept_as_written(write_deployment: WriteDeployment) -> None:
    url = "postgresql://bots@db/ucwa?options=-csearch_path%3Dbots"
    deployment = load_deployment(write_deployment(f"store: {url}\n" + ONE), environ={})
    assert deployment.store == url


def test_substitution(write_deployment: WriteDeployment) -> None:
    path = write_deployment("""\
server: {url: "${SCHEME:-https}://${HOST}/"}
store: ${STATE:-/var/lib/ucwa-flow}
admin: {listen: "127.0.0.1:${PORT:-8470}"}
accounts:
  - id: echo
    user: ${BOT}
    password_env: ECHO_PASSWORD
    flow: flows/echo.flow.yaml
    vars: {a: "$${HOME} and $HOME", b: "${EMPTY:-fallback}", c: "${EMPTY}", d: [x, "${HOST}"]}
""")
    env = {"HOST": "lync.contoso.com", "BOT": "sip:bot@contoso.com", "EMPTY": "", "PORT": "9"}
    d = load_deployment(path, environ=env)
    assert d.server.url == "https://lync.contoso.com/"
    assert d.store == "/var/lib/ucwa-flow"
    assert (d.admin.host, d.admin.port) == ("127.0.0.1", 9)
    assert d.accounts[0].user == "sip:bot@contoso.com"
    assert d.accounts[0].variables == {
        "a": "${HOME} and $HOME",
        "b": "fallback",
        "c": "",
        "d": ["x", "lync.contoso.com"],
    }


def test_a_whole_substitution_is_a_number_or_boolean_where_the_schema_wants_one(
    write_deployment: WriteDeployment,
) -> None:
    # the result of ${...} was always text: `max_conversations: ${MAX:-500}` was S003
    # "expected a whole number, got the text '500'", so a limit could not come from the
    # environment (a container's settings)
    path = write_deployment("""\
server: {url: "https://lync.contoso.com/", insecure: "${INSECURE:-false}"}
admin: {enabled: "${ADMIN}", listen: "127.0.0.1:8470"}
accounts:
  - id: echo
    user: echo@contoso.com
    password_env: ECHO_PASSWORD
    flow: flows/echo.flow.yaml
    limits: {max_conversations: "${MAX:-500}", max_answering: "${ANSWERING}"}
    vars: {n: "${N}", t: "${INSECURE:-true}"}
""")
    d = load_deployment(path, environ={"ADMIN": "False", "ANSWERING": "20", "N": "7"})
    assert d.server.insecure is False
    assert d.admin.enabled is False
    assert d.accounts[0].limits.max_conversations == 500
    assert d.accounts[0].limits.max_answering == 20
    # where any value goes (a flow's variables), a substitution stays text
    assert d.accounts[0].variables == {"n": "7", "t": "true"}


def test_a_whole_substitution_of_a_number_of_seconds_is_a_duration(
    write_deployment: WriteDeployment,
) -> None:
    # a duration is a text with a unit or a number of seconds: "30" from a substitution
    # failed the text's pattern, where `retention: 30` written is 30 seconds
    path = write_deployment('retention: "${R:-30}"\nstop_timeout: "${T}"\n' + ONE)
    d = load_deployment(path, environ={"T": "2.5"})
    assert (d.retention, d.stop_timeout) == (30, 2.5)
    d = load_deployment(path, environ={"R": "2h", "T": "5s"})
    assert (d.retention, d.stop_timeout) == (7200, 5)


def test_a_file_that_is_one_substitution_is_not_a_deployment(
    write_deployment: WriteDeployment,
) -> None:
    path = write_deployment('"${X:-5}"\n')
    with pytest.raises(DeploymentError) as raised:
        load_deployment(path, environ={"X": "1"})
    assert "S003" in str(raised.value)


@pytest.mark.parametrize(
    ("written", "environ", "said"),
    [
        ('"${MAX}"', {"MAX": "lots"}, "expected a whole number, got the text 'lots'"),
        ('"${MAX}"', {"MAX": "2.5"}, "expected a whole number, got the text '2.5'"),
        ('"x${MAX}"', {"MAX": "5"}, "expected a whole number, got the text 'x5'"),
        ('"${MAX}${MAX}"', {"MAX": "5"}, "expected a whole number, got the text '55'"),
        ('" ${MAX}"', {"MAX": "5"}, "expected a whole number, got the text ' 5'"),
        ('"0"', {}, "expected a whole number, got the text '0'"),  # written: as before
    ],
)
def test_only_a_whole_substitution_of_a_number_is_read_as_one(
    write_deployment: WriteDeployment, written: str, environ: dict[str, str], said: str
) -> None:
    path = write_deployment(ONE + f"    limits: {{max_conversations: {written}}}\n")
    with pytest.raises(DeploymentError) as raised:
        load_deployment(path, environ=environ)
    assert said in str(raised.value)


def test_keys_are_never_substituted(write_deployment: WriteDeployment) -> None:
    path = write_deployment(ONE + '    vars: {"${X}": 1}\n')
    assert load_deployment(path, environ={"X": "y"}).accounts[0].variables == {"${X}": 1}


def test_os_environ_by_default(
    write_deployment: WriteDeployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("UCWA_TEST_BOT", "sip:from-env@contoso.com")
    path = write_deployment(ONE.replace("echo@contoso.com", "${UCWA_TEST_BOT}"))
    assert load_deployment(path).accounts[0].user == "sip:from-env@contoso.com"
    monkeypatch.delenv("UCWA_TEST_BOT")
    with pytest.raises(DeploymentError, match="D101"):
        load_deployment(path)
