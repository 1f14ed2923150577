"""The code of docs/layers.md's "Attention" section, run as one script: the page cannot drift."""

import os
import re

DOC = os.path.join(os.path.dirname(__file__), "..", "..", "docs", "layers.md")


def _section_blocks():
    with open(DOC, encoding="utf-8") as f:
        text = f.read()
    section = text.split("\n## Attention\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, flags=re.S)


def test_the_attention_section_runs(tmp_path, monkeypatch):
    blocks = _section_blocks()
    assert len(blocks) == 1
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "attention_docs"}
    exec(compile(blocks[0], "docs/layers.md, Attention", "exec"), namespace)  # noqa: S102
    assert namespace["history"].history["accuracy"][-1] > 0.5
