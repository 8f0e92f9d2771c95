"""The fast paths of loading (issue 17) change no diagnostic and no position.

Two stages answer the common case quickly and hand anything else to the slow path that
words it: libyaml's parser (``_fast_yaml``) builds the document of a file with nothing to
report at the YAML stage, and fastjsonschema (``_schema_gate``) says yes or no before
jsonschema looks for errors. These tests pin that the fast YAML path gives the very same
data and positions as ruamel's round-trip loader, that the slow path still words every
YAML problem, and that the schema gate never passes what jsonschema fails.
"""

from __future__ import annotations

import copy
import random
from pathlib import Path
from typing import Any

import pytest

from ucwa_flow.flow import Condition, Location, _fast_yaml, _loader, _schema
from ucwa_flow.flow._schema_gate import FLOW_GATE_MODULE, Gate, digest, draft7, generated_code
from ucwa_flow.flow._validation import SchemaValidator

HERE = Path(__file__).parent
ROOT = HERE.parents[1]
YAML_FILES = sorted(
    {*(ROOT / "flows").rglob("*.yaml"), *HERE.rglob("*.yaml"), ROOT / "deploy.example.yaml"}
)


def _slow(text: str, file: str) -> tuple[Any, list[Any]]:
    original = _loader.read_plain
    _loader.read_plain = lambda *args: False  # type: ignore[assignment]
    try:
        return _loader.read_document(text, file)
    finally:
        _loader.read_plain = original


def _same(text: str, file: str = "f.flow.yaml") -> None:
    fast, fast_found = _loader.read_document(text, file)
    slow, slow_found = _slow(text, file)
    assert fast_found == slow_found
    if slow is None:
        assert fast is None
        return
    assert fast is not None
    assert repr(fast.data) == repr(slow.data)  # the same values of the same types
    assert fast.values == slow.values
    assert fast.keys == slow.keys
    assert fast.digest == slow.digest


@pytest.mark.parametrize("path", YAML_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_known_file_reads_the_same_on_both_paths(path: Path) -> None:
    _same(path.read_text("utf-8-sig"), str(path))


def test_the_known_valid_flows_take_the_fast_path() -> None:
    taken = 0
    for path in sorted((ROOT / "flows").glob("*.flow.yaml")):
        document = _loader.Document(str(path), None)
        taken += _fast_yaml.read_plain(path.read_text("utf-8"), document, _loader.MAX_DEPTH)
    assert taken == len(list((ROOT / "flows").glob("*.flow.yaml")))


@pytest.mark.parametrize(
    "text",
    [
        "a: 1\nb: [1, 2, {c: d}]\n",
        "a:\n- x\n- y\nb:\n  - z\n",
        "a: |\n  line1\n  line2\nb: >\n  folded\n  text\n\n  para\nc: |-\n  x\n",
        "a: 'q''uote'\nb: \"dq\\n\\u263a\"\n",
        "a: multi\n  line plain\n  scalar\n",
        "a: 😀😀 x\nb: 😀\nc: [😀, x]\n",
        "a: 1\r\nb:\r\n  c: 2\r\n",
        "404: x\n0x10: y\n1_000: z\n",
        "a: 0x10\nb: 1_000\nc: 1.5e3\nd: .inf\ng: 0o17\nh: +12\ni: on\nj: yes\nk: True\nm: ~\n",
        "a: {b: , c: d}\n",
        "a:\n  - goto:\n  - b\n",
        "a:   \t x\n",
        "a\tb: 1\n",
        "a: x\u2028y\nb: 1\n",
        "a: 1\rb: 2\n",
        "a: !!str 1\n",
        "a: &x 1\nb: *x\n",
        "%YAML 1.1\n---\na: on\n",
        "a: 1\na: 2\n",
        "1: a\n'1': b\n",
        "true: x\n",
        "- a\n- b\n",
        "a: 2024-01-01\n",
        "a: 1\n---\nb: 2\n",
        "a:\n    b: 1\n   c: 2\n",
        "a: [1, 2\n",
        "? [a]\n: b\n",
        "",
        "# only a comment\n",
        "a: b\x07\n",
    ],
)
def test_unusual_yaml_reads_the_same_on_both_paths(text: str) -> None:
    _same(text)


def test_random_edits_of_the_known_flows_read_the_same_on_both_paths() -> None:
    rng = random.Random(17)
    pieces = [":", "-", " ", '"', "'", "#", "{", "}", "[", "]", "\n", ",", "|", ">", "&", "*"]
    pieces += ["!", "%", "é", "\u2028", "\r", "\t", "---", "..."]
    for path in sorted((ROOT / "flows").glob("*.flow.yaml")):
        text = path.read_text("utf-8")
        for _ in range(15):
            edited = text
            for _ in range(rng.randint(1, 3)):
                at = rng.randrange(len(edited) + 1)
                if rng.random() < 0.4:
                    edited = edited[:at] + edited[at + 1 :]
                else:
                    edited = edited[:at] + rng.choice(pieces) + edited[at:]
            _same(edited, str(path))


# --- the schema gate -----------------------------------------------------------------


class _Jsonschema(SchemaValidator):
    """The flow schema's validator without the gate: jsonschema alone."""

    gated = False

    def prepare(self, schema: dict[str, Any]) -> dict[str, Any]:
        return schema


_JSONSCHEMA = _Jsonschema("flow.schema.json")


def _errors(data: Any) -> int:
    return len(_JSONSCHEMA.check(_loader.Document("f.flow.yaml", data)))


def _flows() -> list[Any]:
    found = []
    for path in sorted((ROOT / "flows").glob("*.flow.yaml")) + sorted(HERE.rglob("*.flow.yaml")):
        document, _ = _loader.read_document(path.read_text("utf-8-sig"), str(path))
        if document is not None:
            found.append(document.data)
    return found


def test_the_gate_passes_the_valid_example_flows() -> None:
    gate = Gate(_schema.schema)
    passed = 0
    for path in sorted((ROOT / "flows").glob("*.flow.yaml")):
        document, _ = _loader.read_document(path.read_text("utf-8"), str(path))
        assert document is not None
        assert _errors(document.data) == 0
        passed += gate.passes(document.data)
    assert passed >= 5  # (a fault of fastjsonschema's code for `outbound.to` fails one)


_ODD = [True, False, 1, 0, 1.5, None, "x", "", [], {}, ["x"], {"x": 1}, "stop", 10**6, -1]


def _mutants(data: Any, rng: random.Random, count: int) -> list[Any]:
    """``count`` copies of ``data`` with one node replaced, removed, or given a new key."""
    paths: list[tuple[Any, ...]] = []

    def walk(node: Any, path: tuple[Any, ...]) -> None:
        paths.append(path)
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value, (*path, key))
        elif isinstance(node, list):
            for index, value in enumerate(node):
                walk(value, (*path, index))

    walk(data, ())
    mutants = []
    for _ in range(count):
        mutant = copy.deepcopy(data)
        path = rng.choice(paths[1:])
        parent = mutant
        for part in path[:-1]:
            parent = parent[part]
        roll = rng.random()
        if roll < 0.6:
            parent[path[-1]] = rng.choice(_ODD)
        elif roll < 0.8:
            del parent[path[-1]]
        elif isinstance(parent[path[-1]], dict):
            parent[path[-1]][rng.choice(["sya", "goto", "x", "stop", "do", "every"])] = 1
        else:
            parent[path[-1]] = str(parent[path[-1]])
        mutants.append(mutant)
    return mutants


def test_the_gate_never_passes_a_document_with_schema_errors() -> None:
    gate = Gate(_schema.schema)
    rng = random.Random(1717)
    checked = passed = 0
    for data in _flows():
        for mutant in [data, *_mutants(data, rng, 25)]:
            if gate.passes(mutant):
                passed += 1
                assert _errors(mutant) == 0, mutant
            checked += 1
    assert passed > 0  # both answers were exercised
    assert checked > passed


def test_the_gate_reads_constants_as_jsonschema_does() -> None:
    rewritten = draft7({"properties": {"v": {"const": 1}, "any": {"const": True}}})
    assert rewritten is not None
    gate = Gate(lambda: {"properties": {"v": {"const": 1}, "any": {"const": True}}})
    assert gate.passes({"v": 1, "any": True})
    assert not gate.passes({"v": True})  # True == 1 in Python, not in JSON Schema
    assert not gate.passes({"any": 1})
    assert draft7({"dependentSchemas": {}}) is None  # unknown to draft 7: no gate
    assert draft7({"enum": [1, "a"]}) is None
    assert rewritten["properties"]["any"]["type"] == "boolean"


def test_the_flow_schemas_check_generated_ahead_is_up_to_date() -> None:
    # After a change to schemas/flow.schema.json: python -m ucwa_flow.flow._schema_gate.
    # The module is compared by the schema it was made from, not by its text: another
    # fastjsonschema release writes other (equivalent) code for the same schema.
    module = ROOT / "ucwa_flow" / "flow" / "_flow_gate.py"
    rewritten = draft7(_schema.schema())
    assert rewritten is not None
    assert f"SCHEMA_SHA256 = {digest(rewritten)!r}" in module.read_text("utf-8")
    assert generated_code(_schema.schema()).count(digest(rewritten)) == 1
    gate = Gate(_schema.schema, FLOW_GATE_MODULE)
    assert gate._ahead(rewritten) is not None  # the module is used, not generated again


# --- templates read without a parser --------------------------------------------------

_TEMPLATES = [
    "Hello {{ caller.name }}",
    "Code {{match.code}} for {{ last }}, {{ match.code.upper }}",
    "no template at all { } }} %} #}",
    "{{ true }} {{ none }} {{ None }}",
    "{{ x.if }}",
    "{{ and }}",
    "{{- name }}",
    "{{ name | upper }}",
    "{{ name['a'] }}",
    "{% if x %}y{% endif %}",
    "{# comment #}",
    "{{ match }}",
    "{{ a }}{{b}}{{ c.d.e }}\n{{ f }}",
    "{{ campaign.yes }} of {{ campaign.size }}, {{ match.n }}",
    "{ {{ x }} }",
    "{{{ x }}}",
    "{{ x }",
    "{{ é }}",
    "{{ class }}",
    "",
    '{{ description or "an unspecified problem" }}.',
    "{{ a and b or 'x' }}",
    "{{ 'x' }}{{ \"y\" }}",
    '{{ "a}}b" }}',
    "{{ a or }}",
    "{{ or b }}",
    "{{ a or or b }}",
    "{{ match.x or campaign.y }}",
    "{{ a.or }}",
    '{{ "x\\"y" }}',
    "{{ a  or  'b' }}",
    "{{ none or a }}",
    "{{ a ornot b }}",
    "{{ a or 'b' and c.d }}",
]


@pytest.mark.parametrize("source", _TEMPLATES)
def test_a_template_read_without_a_parser_reads_the_names_the_parser_finds(source: str) -> None:
    from jinja2.exceptions import TemplateSyntaxError

    from ucwa_flow.flow import _sandbox, _template_tree
    from ucwa_flow.flow._simple_templates import simple_names

    names = simple_names(source)
    try:
        tree = _sandbox._TEXT.parse(source)
    except TemplateSyntaxError:
        assert names is None  # a template with an error is always parsed
        return
    if names is not None:
        depth, found = _template_tree.analyse(tree, _sandbox._TEXT)
        assert names == found
        assert depth <= _sandbox._COMPILE_NOW  # compiled at its first render: never deep


def test_random_templates_read_without_a_parser_read_what_the_parser_finds() -> None:
    from jinja2.exceptions import TemplateSyntaxError

    from ucwa_flow.flow import _sandbox, _template_tree
    from ucwa_flow.flow._simple_templates import simple_expression, simple_names

    pieces = ["{{", "}}", " ", "a", "b.c", "match.k", "campaign.n", " or ", " and ", "or"]
    pieces += ['"x"', "'y'", '"{"', "none", "{%", "%}", "|", "+", "1", "\\", "\n", "."]
    rng = random.Random(17)
    read = 0
    for _ in range(4000):
        source = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 9)))
        for simple, parse in (
            (simple_names, _sandbox._TEXT.parse),
            (simple_expression, lambda s: _template_tree.parse_expression(s, _sandbox._TEXT)),
        ):
            names = simple(source)
            if names is None:
                continue
            read += 1
            try:
                tree = parse(source)
            except (TemplateSyntaxError, _sandbox.TemplateCompileError):
                pytest.fail(f"{source!r} was read as plain but does not parse")
            assert names == _template_tree.analyse(tree, _sandbox._TEXT)[1], source
    assert read > 300


def test_a_plain_expression_of_many_operands_is_parsed_and_its_depth_checked() -> None:
    """A plain template or condition is parsed only when it is first rendered, unchecked
    for depth: one joining more than ``MAX_OPERANDS`` operands is not read as plain."""
    from ucwa_flow.flow import _sandbox, _template_tree
    from ucwa_flow.flow._simple_templates import MAX_OPERANDS, simple_expression, simple_names

    most = " or ".join(["a", "'x'"] * (MAX_OPERANDS // 2))
    assert simple_expression(most) is not None
    assert simple_names("{{ " + most + " }}") is not None
    depth, _ = _template_tree.analyse(_sandbox._TEXT.parse("{{ " + most + " }}"), _sandbox._TEXT)
    assert depth <= _sandbox._COMPILE_NOW
    assert simple_expression(most + " and b") is None
    assert simple_names("{{ " + most + " and b }}") is None
    with pytest.raises(_sandbox.TemplateCompileError, match="nested too deeply"):
        Condition(" and ".join(["a"] * 1500), Location("f.yaml", 1, 1))


def test_a_plain_expression_is_parsed_when_first_evaluated() -> None:
    from ucwa_flow.flow._diagnostics import Location
    from ucwa_flow.flow._sandbox import Condition, Value

    where = Location("f", 1, 1)
    value = Value({"to": "{{ caller.uri }}", "why": "{{ reason or 'none given' }}"}, where)
    assert value.variables == {"caller", "reason"}
    assert value.evaluate({"caller": {"uri": 7}, "reason": None}) == {"to": 7, "why": "none given"}
    condition = Condition("{{ vars.ticket and ready }}", where)
    assert condition._ast is None
    assert condition.evaluate({"vars": {"ticket": "T1"}, "ready": True}) is True
    assert condition.evaluate({"vars": {"ticket": ""}, "ready": True}) is False


def test_a_template_read_without_a_parser_renders_as_before() -> None:
    from ucwa_flow.flow._diagnostics import Location
    from ucwa_flow.flow._sandbox import Template

    template = Template("Hi {{ caller.name }} <{{ match.code }}>", Location("f", 1, 1), html=True)
    assert template._ast is None  # not parsed while loading
    assert template.variables == {"caller", "match"}
    assert template.captures == {"code"}
    context = {"caller": {"name": "Ann & Bo"}, "match": {"code": "X<1>"}}
    assert template.render(context) == "Hi Ann &amp; Bo <X&lt;1&gt;>"  # values escaped
