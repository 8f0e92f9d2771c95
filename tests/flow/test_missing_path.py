"""A path that does not exist: one line, with the nearest name beside it when one is near."""

from __future__ import annotations

from pathlib import Path

from ucwa_flow.flow._missing import no_such_file


def test_the_hint_is_the_nearest_name_of_the_same_kind(tmp_path: Path) -> None:
    for name in ("echo.flow.yaml", "echo.test.yaml", "e2.flow.yaml", "deploy.example.yaml"):
        (tmp_path / name).write_text("", encoding="utf-8")
    (tmp_path / "flows").mkdir()

    def said(name: str, *, folders: bool = False) -> str:
        return no_such_file(tmp_path / name, "flow file", folders=folders).removeprefix(
            f"{tmp_path}/"
        )

    assert said("ech.flow.yaml") == (
        f"ech.flow.yaml: no such flow file; did you mean {tmp_path}/echo.flow.yaml?"
    )
    # the shared ending made "e2.flow.yaml" near "nw.flow.yaml", and "deploy.yaml" too
    assert said("nw.flow.yaml") == "nw.flow.yaml: no such flow file"
    assert said("deploy.yaml").endswith("did you mean " + f"{tmp_path}/deploy.example.yaml?")
    assert said("nw.yaml") == "nw.yaml: no such flow file"
    # X.yaml names the flow X.flow.yaml: not the test script beside it
    assert said("ech.yaml").endswith(f"did you mean {tmp_path}/echo.flow.yaml?")
    assert said("flow", folders=True).endswith(f"did you mean {tmp_path}/flows/?")
    assert said("flow") == "flow: no such flow file"
    assert no_such_file("nowhere/at/all.flow.yaml", "flow file") == (
        "nowhere/at/all.flow.yaml: no such flow file"
    )
