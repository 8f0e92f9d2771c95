"""diff_flows: each kind of change on small flow pairs."""

from __future__ import annotations

from tests.diff._flows import BASE, edit, flow
from ucwa_flow.diff import FlowDiff, diff_flows, format_text
from ucwa_flow.diff._model import Change


def _diff(new_text: str, old_text: str = BASE) -> FlowDiff:
    return diff_flows(flow(old_text), flow(new_text))


def _changes(diff: FlowDiff, state: str) -> dict[tuple[str, str], Change]:
    found = next(s for s in diff.states if s.name == state)
    return {(c.section, c.key): c for c in found.changes}


def _status(diff: FlowDiff) -> dict[str, str]:
    return {s.name: s.status for s in diff.states}


def test_the_same_flow_has_no_differences() -> None:
    diff = _diff(BASE)
    assert not diff.has_differences
    assert set(_status(diff).values()) == {"same"}
    assert format_text(diff) == "shop: no differences\n"


def test_a_comment_or_reordered_key_is_no_difference() -> None:
    diff = _diff(edit(("start: menu\n", "# entry\nstart: menu\n")))
    assert not diff.has_differences


def test_an_added_state_and_the_goto_that_reaches_it() -> None:
    text = edit(
        (
            "      - keywords: [track, where]\n",
            '      - choice: ["3"]\n        goto: cancel\n      - keywords: [track, where]\n',
        ),
        text=BASE + "  cancel:\n    enter:\n      - say: Cancelled.\n      - stop\n",
    )
    diff = _diff(text)
    assert _status(diff)["cancel"] == "added"
    assert _status(diff)["menu"] == "changed"
    added = _changes(diff, "menu")[("message", 'choice "3"')]
    assert added.status == "added"
    assert added.new == ("goto cancel",)
    report = format_text(diff)
    assert 'state cancel: added\n  + enter actions:\n  +   say "Cancelled."\n  +   stop\n' in report


def test_a_removed_state() -> None:
    text = edit(("      - keywords: [track, where]\n        goto: track\n", ""))
    text = text[: text.index("  track:\n")]
    diff = _diff(text)
    assert _status(diff)["track"] == "removed"
    assert diff.states[-1].name == "track"  # removed states come last
    removed = _changes(diff, "menu")[("message", 'keywords "track", "where"')]
    assert removed.status == "removed"


def test_a_renamed_state_is_found_by_similarity_and_gotos_to_it_are_not_changes() -> None:
    text = BASE.replace("goto: order", "goto: purchase").replace("  order:\n", "  purchase:\n")
    diff = _diff(text)
    state = next(s for s in diff.states if s.name == "purchase")
    assert state.status == "renamed"
    assert state.old_name == "order"
    assert state.similarity == 1.0
    assert diff.renames == {"order": "purchase"}
    assert _status(diff)["menu"] == "same"
    assert "state purchase: renamed from order (100% similar)" in format_text(diff)


def test_a_state_renamed_and_reworded_a_little_is_still_a_rename() -> None:
    text = BASE.replace("goto: order", "goto: buy").replace("  order:\n", "  buy:\n")
    text = text.replace("What would you like to order?", "What shall we order?")
    diff = _diff(text)
    state = next(s for s in diff.states if s.name == "buy")
    assert state.status == "renamed"
    assert 0.6 <= (state.similarity or 0) < 1
    enter = _changes(diff, "buy")[("enter", "on enter")]
    assert enter.aspects == ("texts",)


def test_a_state_replaced_by_a_different_one_is_removed_and_added() -> None:
    text = BASE.replace("goto: track", "goto: status").replace(
        "  track:\n    enter:\n      - say: Tracking is not online yet.\n      - goto: menu\n",
        "  status:\n    messages:\n      - any: true\n        say: Your parcel is late.\n"
        "        do: [stop]\n",
    )
    status = _status(_diff(text))
    assert status["status"] == "added"
    assert status["track"] == "removed"


def test_handler_pattern_text_and_goto_changes() -> None:
    text = edit(
        ('      - choice: ["1", order]\n', '      - choice: ["1", order, buy]\n'),
        (
            "        say: Ordered {{ match.item }}.\n        goto: menu\n",
            "        say: Got {{ match.item }}.\n        goto: track\n",
        ),
    )
    diff = _diff(text)
    menu = _changes(diff, "menu")
    assert menu[("message", 'choice "1", "order"')].status == "removed"
    assert menu[("message", 'choice "1", "order", "buy"')].status == "added"
    handler = _changes(diff, "order")[("message", "regex /(?P<item>\\w+)/")]
    assert handler.status == "changed"
    assert handler.aspects == ("texts", "gotos")
    report = format_text(diff)
    assert '  - say "Ordered {{ match.item }}."' in report
    assert '  + say "Got {{ match.item }}."' in report


def test_timeouts_ladders_and_enter_texts() -> None:
    text = edit(
        ("      - after: 10m\n", "      - after: 15m\n"),
        ("      - say: Still not sure? Type help.\n", ""),
        ('      - say: "1. Order  2. Track"\n', '      - say: "1. Order  2. Track  3. Help"\n'),
    )
    menu = _changes(_diff(text), "menu")
    timeout = menu[("timeout", "step 2")]
    assert timeout.status == "changed"
    assert timeout.old[0] == "after 10m"
    assert timeout.new[0] == "after 15m"
    assert timeout.aspects == ("timing",)
    assert menu[("no_match", "rung 2")].status == "removed"
    assert menu[("enter", "on enter")].aspects == ("texts",)


def test_start_settings_variables_commands_and_invitation() -> None:
    text = edit(
        ("start: menu\n", "start: track\n"),
        ("  idle_timeout: 30m\n", "  idle_timeout: 1h\n  format: html\n"),
        ("  order: null\n", "  order: none\n  basket: []\n"),
        ("    say: Type 1 or 2.\n", "    say: Type 1, 2 or 3.\n"),
        (
            "  default: accept\n",
            '  default: decline\n  rules:\n    - from: "sip:*@shop.com"\n      action: accept\n',
        ),
    )
    flow_changes = {(c.section, c.key): c for c in _diff(text).flow}
    assert flow_changes[("flow", "start")].new == ("track",)
    assert flow_changes[("settings", "idle_timeout")].old == ("30m",)
    assert flow_changes[("settings", "idle_timeout")].aspects == ("value",)
    assert flow_changes[("settings", "format")].new == ("html",)
    assert flow_changes[("variables", "order")].status == "changed"
    assert flow_changes[("variables", "basket")].status == "added"
    assert flow_changes[("commands", "help")].aspects == ("texts",)
    assert flow_changes[("invitation", "default")].new == ("decline",)
    assert flow_changes[("invitation", "rule 1")].status == "added"
    report = format_text(_diff(text))
    assert report.startswith("flow:\n  flow start: menu -> track\n")


def test_a_state_that_disables_a_global_command() -> None:
    text = edit(
        (
            "    enter:\n      - say: What would you like",
            "    commands:\n      help: false\n    enter:\n      - say: What would you like",
        )
    )
    change = _changes(_diff(text), "order")[("command", "help")]
    assert change.status == "added"
    assert change.new == ("disabled in this state",)


def test_json_lists_only_states_that_differ() -> None:
    data = _diff(edit(("Tracking is not online yet.", "Tracking soon."))).to_json()
    assert data["differences"] is True
    assert [s["name"] for s in data["states"]] == ["track"]
    assert data["states"][0]["changes"][0]["aspects"] == ["texts"]


def test_handlers_tried_in_another_order() -> None:
    first = '      - choice: ["1", order]\n        goto: order\n'
    second = "      - keywords: [track, where]\n        goto: track\n"
    text = edit((first + second, second + first))
    change = _changes(_diff(text), "menu")[("message", "order")]
    assert change.aspects == ("order",)
    assert change.new == ('keywords "track", "where"', 'choice "1", "order"')
    assert "  message handlers: tried in another order\n" in format_text(_diff(text))


def test_control_characters_in_names_are_escaped_in_the_text_report() -> None:
    # a state named "tr\nack" broke its heading and its gotos over two lines, and one
    # holding "\x1b[2J" cleared the terminal of whoever read the report
    old = edit(("  track:\n", '  "tr\\nack\\e[2J":\n'), ("goto: track", 'goto: "tr\\nack\\e[2J"'))
    new = edit(("Tracking is not online yet.", "Tracking soon."), text=old)
    text = format_text(_diff(new, old))
    assert text.splitlines() == [
        "state tr\\nack\\u001b[2J: changed",
        "  enter actions: texts changed",
        '    - say "Tracking is not online yet."',
        '    + say "Tracking soon."',
        "      goto menu",
    ]
    same = format_text(_diff(edit(("name: shop", 'name: "sh\\nop"'))))
    assert "flow name: shop -> sh\\nop" in same.splitlines()[1]
