"""Call scripts: the shipped example is valid, and each kind of problem is reported located."""

from __future__ import annotations

import pytest

from lodestar.channels.voice_robot import example_script_path, load_script, load_script_text
from lodestar.errors import DefinitionError

P = '{zh-CN: "说", en: "say"}'
FB = f"fallback: {{then: bye, prompt: {P}}}"


def script(nodes: str, extra: str = "") -> str:
    return (f"script: t\nstart: a\nintents:\n  yes_: {{keywords: [好]}}\n{extra}nodes:\n"
            + nodes)  # fmt: skip


VALID = f"""  - id: a
    prompt: {P}
    branches: {{yes_: bye}}
    {FB}
  - id: bye
    kind: hangup
    prompt: {P}
"""


def problems(text: str) -> list[str]:
    with pytest.raises(DefinitionError) as info:
        load_script_text(text, "s.yaml")
    return info.value.problems


def test_example_script_is_valid() -> None:
    s = load_script(example_script_path())
    assert s.start == "intro"
    assert {"apply_link_sent", "interested", "transfer"} <= {n.id for n in s.nodes}


def test_valid_minimal_script() -> None:
    assert load_script_text(script(VALID)).order() == ["a", "bye"]


def test_unknown_target_located() -> None:
    text = script(VALID.replace("branches: {yes_: bye}", "branches: {yes_: nowhere}"))
    (p,) = problems(text)
    assert p.startswith("s.yaml:8: field 'nodes[0].branches.yes_'") and "no node 'nowhere'" in p


def test_unknown_intent_located() -> None:
    (p,) = problems(script(VALID.replace("{yes_: bye}", "{maybe: bye}")))
    assert p.startswith("s.yaml:8:") and "unknown intent 'maybe'" in p


def test_duplicate_id_located() -> None:
    text = script(VALID + f"  - id: a\n    kind: hangup\n    prompt: {P}\n")
    ps = problems(text)
    assert any(p.startswith("s.yaml:13: field 'nodes[2].id': duplicate node id 'a'") for p in ps)


def test_unreachable_node_located() -> None:
    (p,) = problems(script(VALID + f"  - id: lost\n    kind: hangup\n    prompt: {P}\n"))
    assert p.startswith("s.yaml:13: field 'nodes[2].id'") and "cannot be reached" in p


def test_node_with_no_way_to_end_located() -> None:
    text = script(f"""  - id: a
    prompt: {P}
    branches: {{yes_: loop}}
    {FB}
  - id: loop
    prompt: {P}
    branches: {{yes_: loop}}
    fallback: {{then: loop, prompt: {P}}}
  - id: bye
    kind: hangup
    prompt: {P}
""")
    ps = problems(text)
    assert any(p.startswith("s.yaml:10: field 'nodes[1].id'") and "never end" in p for p in ps)


def test_missing_fallback_located() -> None:
    (p,) = problems(script(VALID.replace(f"    {FB}\n", "")))
    assert p.startswith("s.yaml:6: field 'nodes[0].fallback'") and "fallback" in p


def test_prompt_missing_locale_located() -> None:
    text = script(
        VALID.replace(f"kind: hangup\n    prompt: {P}", 'kind: hangup\n    prompt: {zh-CN: "再见"}')
    )
    (p,) = problems(text)
    assert p.startswith("s.yaml:12: field 'nodes[1].prompt.en': is required")


def test_unknown_variable_and_silent_loop() -> None:
    text = script(VALID.replace('en: "say"}\n    branches', 'en: "hi {name}"}\n    branches', 1))
    (p,) = problems(text)
    assert "unknown variable {name}" in p and p.startswith("s.yaml:7:")
    loop = script(f"""  - id: a
    kind: say
    prompt: {P}
    next: b
  - id: b
    kind: goal
    prompt: {P}
    next: a
  - id: c
    kind: hangup
    prompt: {P}
""")
    ps = problems(loop)
    assert any("never asks a question" in p for p in ps)


def test_bad_yaml_and_kind_rules() -> None:
    ps = problems(script(VALID.replace("kind: hangup", "kind: hangup\n    next: a")))
    assert any("ends the call" in p for p in ps)
