"""Templates and conditions are sandboxed; regex matching on message text is time-bounded."""

from __future__ import annotations

import time

import pytest

from ucwa_flow.flow import (
    Condition,
    Location,
    Matcher,
    MatchTimeout,
    Template,
    TemplateCompileError,
    TemplateRenderError,
    Value,
    load_flow_text,
)
from ucwa_flow.flow._sandbox import MAX_NESTING

HERE = Location("t.yaml", 3, 7)

ESCAPES = [
    "{{ ''.__class__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ ''['__class__'] }}",
    "{{ caller.__init__.__globals__ }}",
    "{{ cycler.__init__.__globals__.os }}",
    "{{ lipsum.__globals__['os'].system('id') }}",
    "{{ self._TemplateReference__context }}",
    "{{ vars.update({'x': 1}) }}",
    "{{ [].append(1) }}",
    "{{ 'a' * 100000000 }}",
    "{{ 9 ** 9999999 }}",
    "{{ range(100000000) | list }}",
]


@pytest.mark.parametrize("source", ESCAPES)
def test_sandbox_escape_attempts_fail_with_a_safe_located_error(source: str) -> None:
    template = Template(source, HERE)
    context = {"caller": {"name": "x"}, "vars": {}}
    with pytest.raises(TemplateRenderError) as caught:
        template.render(context)
    message = str(caught.value)
    assert message.startswith("t.yaml:3:7: ")
    assert "\n" not in message


def test_escape_through_a_condition_fails_too() -> None:
    with pytest.raises(TemplateRenderError):
        Condition("''.__class__.__base__", HERE).evaluate({})


def test_html_templates_escape_caller_text_and_text_templates_do_not() -> None:
    context = {"message": "<script>alert(1)</script>"}
    assert Template("<i>{{ message }}</i>", HERE, html=True).render(context) == (
        "<i>&lt;script&gt;alert(1)&lt;/script&gt;</i>"
    )
    assert Template("{{ message }}", HERE).render(context) == "<script>alert(1)</script>"


def test_template_static_analysis() -> None:
    template = Template(
        "{% set n = 2 %}{{ n }} {{ caller.name }} {{ match.id }} {{ match['x'] }}", HERE
    )
    assert template.variables == {"caller", "match"}
    assert template.captures == {"id", "x"}


def test_values_keep_native_types_for_a_whole_expression() -> None:
    value = Value({"n": "{{ n + 1 }}", "s": "n={{ n }}", "l": ["{{ n > 1 }}", 3, None]}, HERE)
    assert value.evaluate({"n": 2}) == {"n": 3, "s": "n=2", "l": [True, 3, None]}


def test_syntax_errors_raise_compile_errors_with_the_line() -> None:
    with pytest.raises(TemplateCompileError) as caught:
        Template("line one\n{{ broken", HERE)
    assert caught.value.lineno == 2
    with pytest.raises(TemplateCompileError):
        Condition("1 +", HERE)
    with pytest.raises(TemplateCompileError):
        Condition("x }}{% for a in b %}", HERE)


def _chain(n: int) -> str:
    return " + ".join(["a"] * n)


#: all but the last are deeper than MAX_NESTING: the depth check (or a RecursionError of
#: Jinja's parser) refuses them before any code is made; what each did before it is noted
DEEP = [
    "{{ " + _chain(1500) + " }}",  # Jinja's compiler recursed past Python's stack
    "{{ " + _chain(200) + " }}",  # was Python's "too many nested parentheses" at render
    "{{ " + "(" * 1000 + "a" + ")" * 1000 + " }}",  # Jinja's parser recursed
    "{{ " + "[" * 1000 + "a" + "]" * 1000 + " }}",
    "{{ a" + " | string" * 1000 + " }}",
    "{{ " + "not " * 1000 + "a }}",
    "{% if a %}" * 120 + "x" + "{% endif %}" * 120,  # was Python's "too much indentation"
    "{% for x in [1] %}" * 21 + "x" + "{% endfor %}" * 21,  # 23 levels: the early compile
    # (Python: "too many statically nested blocks")
]


@pytest.mark.parametrize("source", DEEP, ids=range(len(DEEP)))
def test_a_template_nested_too_deeply_does_not_compile(source: str) -> None:
    """Not a RecursionError, nor an error at every render: a compile error, as the flow
    loads (``F112``)."""
    with pytest.raises(TemplateCompileError, match="nested too deeply"):
        Template(source, HERE)


#: within MAX_NESTING, so not refused by the depth check, but code Python refuses: the
#: early compile (``_COMPILE_NOW``) makes it a compile error as the flow loads
PYTHON_REFUSES = [
    "{% for x in [1] %}" * 21 + "x" + "{% endfor %}" * 21,  # 20 nested blocks at most
    # 3,000 ``elif``: Jinja's tree is 6 levels deep, Python nests each elif in the one
    # before and its compiler recursed (RecursionError at every render)
    "{% if a == 0 %}0"
    + "".join(f"{{% elif a == {i} %}}{i}" for i in range(1, 3000))
    + "{% endif %}",
]


@pytest.mark.parametrize("source", PYTHON_REFUSES, ids=["for", "elif"])
def test_code_python_refuses_is_a_compile_error_as_the_flow_loads(source: str) -> None:
    from ucwa_flow.flow import _sandbox

    tree = _sandbox._TEXT.parse(source)
    walked = [(tree, 1)]  # the tree's own depth, as the depth check sees it
    deepest = 0
    while walked:
        node, level = walked.pop()
        deepest = max(deepest, level)
        walked.extend((child, level + 1) for child in node.iter_child_nodes())
    assert deepest <= MAX_NESTING  # not the depth check's
    with pytest.raises(TemplateCompileError, match="nested too deeply to run"):
        Template(source, HERE)


def test_many_elif_branches_compile_and_run() -> None:
    """The elif branches decide when the code is made, they are not levels of nesting."""
    source = "{% if a == 0 %}0" + "".join(f"{{% elif a == {i} %}}{i}" for i in range(1, 300))
    template = Template(source + "{% endif %}", HERE)
    assert template._code is not None  # made as it loaded
    assert template.render({"a": 299}) == "299"


def test_a_long_attribute_chain_is_judged_as_jinja_judges_it() -> None:
    """``s.x.x...`` is one operand to the plain reader, but Jinja nests a level an
    attribute: 250 of them passed validate, then every render failed (Python: "too many
    nested parentheses"; a RecursionError from about 1,000)."""
    from ucwa_flow.flow._simple_templates import MAX_OPERANDS, simple_expression

    def deep(n: int) -> dict[str, object]:
        tree: dict[str, object] = {"x": 1}
        for _ in range(n - 1):
            tree = {"x": tree}
        return tree

    assert simple_expression("s" + ".x" * (MAX_OPERANDS - 1)) is not None
    assert simple_expression("s" + ".x" * MAX_OPERANDS) is None  # parsed, depth checked
    assert simple_expression("a or s" + ".x" * (MAX_OPERANDS - 2)) is not None
    assert simple_expression("a or s" + ".x" * (MAX_OPERANDS - 1)) is None
    for n in (250, 1000, 3000):
        chain = "s" + ".x" * n
        with pytest.raises(TemplateCompileError, match="nested too deeply"):
            Condition(chain, HERE)
        with pytest.raises(TemplateCompileError, match="nested too deeply"):
            Template("v={{ " + chain + " }}", HERE)
        with pytest.raises(TemplateCompileError, match="nested too deeply"):
            Value("{{ " + chain + " }}", HERE)
    for n in (MAX_OPERANDS, 40, MAX_NESTING - 4):  # what passes renders
        chain = "s" + ".x" * n
        assert Condition(chain, HERE).evaluate({"s": deep(n)})
        assert Template("v={{ " + chain + " }}", HERE).render({"s": deep(n)}) == "v=1"
        assert Value("{{ " + chain + " }}", HERE).evaluate({"s": deep(n)}) == 1


def test_a_condition_nested_too_deeply_does_not_compile() -> None:
    with pytest.raises(TemplateCompileError, match="nested too deeply"):
        Condition(" and ".join(["a"] * 1500), HERE)
    with pytest.raises(TemplateCompileError, match="nested too deeply"):
        Value({"x": "{{ " + _chain(1500) + " }}"}, HERE)


def test_a_template_nested_as_deep_as_may_be_renders() -> None:
    """Up to the limit, compiled (and checked by Python) as the flow loads, rendered later."""
    add = Template("{{ " + _chain(MAX_NESTING - 2) + " }}", HERE)  # Template > Output > Add...
    assert add.render({"a": 1}) == str(MAX_NESTING - 2)
    loops = Template("{% for x in [1] %}" * 20 + "{{ x }}" + "{% endfor %}" * 20, HERE)
    assert loops.render({}) == "1"
    assert Condition("(" * 40 + "a" + ")" * 40, HERE).evaluate({"a": 1})
    with pytest.raises(TemplateCompileError, match="nested too deeply"):
        Template("{{ " + _chain(MAX_NESTING - 1) + " }}", HERE)


def test_what_jinjas_code_generator_refuses_is_a_compile_error() -> None:
    """It raised Jinja2's TemplateAssertionError out of ``validate``."""
    with pytest.raises(TemplateCompileError, match="special loop variable"):
        Template("{% for loop in [1] %}x{% endfor %}", HERE)
    deep = "{% if a %}" * 20 + "{% for loop in [1] %}x{% endfor %}" + "{% endif %}" * 20
    with pytest.raises(TemplateCompileError, match="special loop variable"):
        Template(deep, HERE)


def test_regex_on_a_catastrophic_pattern_times_out() -> None:
    matcher = Matcher("regex", [r"^(a|aa)+$"], timeout=0.05)
    with pytest.raises(MatchTimeout):  # 2**60 steps: only the time bound ends it
        matcher.match("a" * 60 + "!")


def test_message_is_cut_at_the_maximum_length_before_matching() -> None:
    matcher = Matcher("regex", [r"END"], max_length=100)
    assert matcher.match("x" * 50 + "END") == {}
    assert matcher.match("x" * 200 + "END") is None


def test_flow_settings_reach_the_matchers() -> None:
    text = (
        "version: 1\nname: t\nstart: s\nsettings: {match_timeout: 20ms, max_message_length: 10}\n"
        "states:\n  s:\n    messages:\n      - match: '^(a|aa)+$'\n        goto: s\n"
        "    timeouts: [{after: 1m, do: [stop]}]\n"
    )
    flow = load_flow_text(text).raise_for_errors()
    matcher = flow.states["s"].handlers[0].matcher
    assert matcher.timeout == pytest.approx(0.02)
    assert matcher.max_length == 10
    assert matcher.match("aaaaaaaaaa" + "!" * 5) == {}


def test_template_context_shape() -> None:
    from datetime import UTC, datetime

    from ucwa_flow.flow import template_context

    context = template_context(
        variables={"ticket": {"id": 7}, "state": "shadowed"},
        state="menu",
        flow="helpdesk",
        caller_uri="sip:ann@contoso.com",
        message="hi",
        match={"id": "E1"},
        now=datetime(2026, 1, 5, 9, 0, tzinfo=UTC),
        timezone="Europe/Paris",
    )
    rendered = Template(
        "{{ ticket.id }} {{ vars.ticket.id }} {{ match.id }} {{ caller.name }} {{ message }} "
        "{{ state }} {{ flow }} {{ now.hour }} {{ webhook.status }}",
        HERE,
    ).render(context)
    assert rendered == "7 7 E1 sip:ann@contoso.com hi menu helpdesk 10 None"


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (
            "{% for a in range(1000) %}{% for b in range(1000) %}{% for c in range(1000) %}"
            "{% endfor %}{% endfor %}{% endfor %}",
            "may run at most",
        ),
        ("{{ ((10**64)**64)**64 }}", "number that large"),
        ("{{ 'x'|center(1000000000) }}", "may not pad beyond"),
    ],
)
def test_templates_run_in_bounded_time_and_space(source: str, message: str) -> None:
    with pytest.raises(TemplateRenderError, match=message):  # refused, not run to the end
        Template(source, Location("f", 1, 1)).render({})


class _Preempted:
    """``time`` as a render sees it when the machine takes the CPU away for 10 s mid-render."""

    def __init__(self) -> None:
        self.reads = 0

    def monotonic(self) -> float:
        self.reads += 1
        return time.monotonic() + (10.0 if self.reads > 1 else 0.0)

    def thread_time(self) -> float:
        return time.thread_time()


def test_a_busy_machine_does_not_fail_a_small_template(monkeypatch: pytest.MonkeyPatch) -> None:
    from ucwa_flow.flow import _render_time

    clock = _Preempted()
    monkeypatch.setattr(_render_time, "time", clock)
    rendered = Template("{{ name | upper }}{% for i in range(3) %} {{ i }}{% endfor %}", HERE)
    assert rendered.render({"name": "lene"}) == "LENE 0 1 2"
    assert clock.reads > 1  # the deadline was checked after the "pause"


class _SlowCpuClock:
    """``time`` for the render bound: a wall clock moved by hand, CPU-time reads counted."""

    def __init__(self) -> None:
        self.wall = 1000.0
        self.cpu_reads = 0

    def monotonic(self) -> float:
        return self.wall

    def thread_time(self) -> float:
        self.cpu_reads += 1
        return 5.0


def test_renders_read_the_cpu_clock_at_most_every_10_ms(monkeypatch: pytest.MonkeyPatch) -> None:
    # reading a thread's CPU time is a system call: not one per render of every step
    from ucwa_flow.flow import _render_time

    clock = _SlowCpuClock()
    monkeypatch.setattr(_render_time, "time", clock)
    monkeypatch.setattr(_render_time, "_seen_thread", None)
    template = Template("You said: {{ message | trim }}", HERE)  # a filter: Jinja2 renders
    for _ in range(100):
        assert template.render({"message": "hi"}) == "You said: hi"
        clock.wall += 0.00005  # 50 us a render: 5 ms in all
    assert clock.cpu_reads == 1
    clock.wall += 0.01
    template.render({"message": "hi"})
    assert clock.cpu_reads == 2
    # never early: the bound starts from a CPU time at or above the thread's (CPU time
    # grows no faster than the wall clock since the reading)
    assert _render_time._cpu_time(clock.wall + 0.004) == pytest.approx(5.004)
    clock.wall -= 1.0  # a wall clock behind the reading is not trusted
    _render_time._cpu_time(clock.wall)
    assert clock.cpu_reads == 3


def test_a_value_nested_deeper_than_json_from_outside_fails_to_evaluate() -> None:
    """What ``set``, a call's arguments and a return store: never deeper than 64 levels
    (a ``set: {v: "{{ [v] }}"}`` per message grew ``v`` until a RecursionError)."""
    from ucwa_flow.bounded_json import MAX_DEPTH

    def nested(levels: int) -> list[object]:
        value: list[object] = []
        for _ in range(levels - 1):
            value = [value]
        return value

    wrap = Value("{{ [v] }}", HERE)
    assert wrap.evaluate({"v": nested(MAX_DEPTH - 1)}) == [nested(MAX_DEPTH - 1)]
    with pytest.raises(TemplateRenderError, match=r"nested too deeply \(more than 64 levels\)"):
        wrap.evaluate({"v": nested(MAX_DEPTH)})
    with pytest.raises(TemplateRenderError, match="nested too deeply"):
        Value("{{ (v,) }}", HERE).evaluate({"v": nested(MAX_DEPTH)})  # a tuple is a level
    with pytest.raises(TemplateRenderError, match="nested too deeply"):
        Value({"a": ["{{ v }}"]}, HERE).evaluate({"v": nested(MAX_DEPTH - 1)})
    assert Value("{{ v }}", HERE).evaluate({"v": nested(MAX_DEPTH)}) == nested(MAX_DEPTH)
