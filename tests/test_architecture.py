"""docs/architecture.md's worked examples, run in order: the documentation cannot drift from the code."""

import os
import re

import pytest

DOC = os.path.join(os.path.dirname(__file__), "..", "docs", "architecture.md")


def _blocks():
    with open(DOC, encoding="utf-8") as f:
        return re.findall(r"```python\n(.*?)```", f.read(), flags=re.S)


def test_there_are_examples_to_run():
    assert len(_blocks()) >= 5  # the state protocol, a layer, an optimizer, a callback, a wrapper


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_the_examples_run_and_their_assertions_hold(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "architecture_examples"}
    for number, block in enumerate(_blocks(), 1):
        exec(compile(block, f"docs/architecture.md, block {number}", "exec"), namespace)  # noqa: S102
