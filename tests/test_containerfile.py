"""docs/production.md's Containerfile installs ucwa-flow from the checkout it copies (the
package is not published), and copies what the build needs: pyproject.toml, its readme and
the packages of the wheel."""

from __future__ import annotations

import re
import shlex
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: the user's own files the image copies, beside the checkout's
USERS_FILES = {"deploy.yaml"}


def _instructions() -> list[tuple[str, list[str]]]:
    page = (ROOT / "docs" / "production.md").read_text("utf-8")
    (block,) = re.findall(r"```dockerfile\n(.+?)```", page, re.DOTALL)
    joined = block.replace("\\\n", " ")
    found = []
    for line in joined.splitlines():
        if line.strip() and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            found.append((word, shlex.split(rest) if word in ("COPY", "RUN") else [rest]))
    return found


def _copied() -> dict[str, str]:
    """Each source the image copies (as written) -> where it lands."""
    copied = {}
    for word, args in _instructions():
        if word == "COPY":
            *sources, target = args
            for source in sources:
                copied[source] = target
    return copied


def test_every_pip_install_installs_a_copied_path_not_a_name() -> None:
    copied = set(_copied().values())
    installs = []
    for word, args in _instructions():
        if word != "RUN":
            continue
        for command in " ".join(args).split("&&"):
            words = command.split()
            if words[:2] == ["pip", "install"]:
                installs += [w for w in words[2:] if not w.startswith("-")]
    assert installs, "the Containerfile installs nothing"
    for target in installs:
        assert target.startswith(("/", ".")), f"pip install {target}: not published"
        assert any(place.rstrip("/").startswith(target.rstrip("/")) for place in copied)


def test_the_copied_checkout_has_what_the_build_needs() -> None:
    copied = _copied()
    for source in copied:
        if source not in USERS_FILES:
            assert (ROOT / source).exists(), source
    project = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    needs = ["pyproject.toml", project["project"]["readme"]]
    needs += project["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]
    install = copied["pyproject.toml"]
    for need in needs:
        source = need if need in copied else f"{need}/"
        assert source in copied, f"{need} is not copied"
        landing = copied[source]
        assert landing.rstrip("/") in (install.rstrip("/"), f"{install.rstrip('/')}/{need}")
