"""Write Keras's public names, module by module, into gpunet's stored list; refresh the docs' table.

    python scripts/keras_api_names.py             where Keras 3 is installed: rewrite the stored list
                                                  (gpunet/keras_api/keras-names.json), then the table
    python scripts/keras_api_names.py --docs      only the coverage table of docs/keras.md (no Keras needed)
    python scripts/keras_api_names.py --check     exit 1 when the list or the table is out of date

The list is what ``import keras`` exports: every module of Keras's public API (``keras``,
``keras.layers``, ``keras.ops.nn``, ``keras.applications.resnet50``, ...; not ``keras.src``, its
implementation, nor ``keras._tf_keras``, its copy for TensorFlow), and in each the names that do
not start with an underscore, with their kind (``module``, ``class``, ``function``, ``constant``).
gpunet reads it at run time (``gpunet.keras_api``) and never imports Keras itself.

The backend Keras is imported with does not change its public names; JAX is used when
``KERAS_BACKEND`` is unset (the test extra installs JAX).
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NAMES_FILE = os.path.join(ROOT, "gpunet", "keras_api", "keras-names.json")
DOCS_FILE = os.path.join(ROOT, "docs", "keras.md")
TABLE_BEGIN = "<!-- coverage table: written by scripts/keras_api_names.py, do not edit -->"
TABLE_END = "<!-- end of coverage table -->"
PRIVATE = ("keras.src", "keras._tf_keras")  # Keras's implementation, and its copy for TensorFlow


def kind(value) -> str:
    if inspect.ismodule(value):
        return "module"
    if isinstance(value, type):
        return "class"
    return "function" if callable(value) else "constant"


def keras_names() -> dict:
    """``{"keras_version": ..., "modules": {module path: {name: kind}}}`` of the installed Keras."""
    os.environ.setdefault("KERAS_BACKEND", "jax")
    import keras  # noqa: PLC0415 - only this script imports Keras

    modules: dict = {}
    pending = [("keras", keras)]
    while pending:
        path, module = pending.pop()
        names = {}
        for name, value in sorted(vars(module).items()):
            if name.startswith("_") or inspect.ismodule(value) and value.__name__.startswith(PRIVATE):
                continue
            names[name] = kind(value)
            if inspect.ismodule(value) and value.__name__.startswith("keras."):
                pending.append((f"{path}.{name}", value))
        modules[path] = names
    return {"keras_version": keras.__version__, "modules": dict(sorted(modules.items()))}


def dump(data: dict) -> str:
    """The stored list's text: one module per line group, stable across runs (reviewable diffs)."""
    lines = ["{", f'  "keras_version": {json.dumps(data["keras_version"])},', '  "modules": {']
    modules = list(data["modules"].items())
    for i, (path, names) in enumerate(modules):
        lines.append(f"    {json.dumps(path)}: {{")
        entries = [f"      {json.dumps(name)}: {json.dumps(kind_)}" for name, kind_ in names.items()]
        lines.append(",\n".join(entries))
        lines.append("    }" + ("," if i + 1 < len(modules) else ""))
    lines += ["  }", "}", ""]
    return "\n".join(line for line in lines if line) + "\n"


def coverage_table() -> str:
    """docs/keras.md's generated part: per Keras module, how many of its names gpunet has, then
    the names themselves."""
    sys.path.insert(0, ROOT)
    from gpunet import keras_api  # noqa: PLC0415 - this checkout's gpunet

    entries = keras_api.coverage()
    rows = [f"Keras {keras_api.keras_version()}: gpunet has {sum(len(e.supported) for e in entries)} of its "
            f"{sum(e.total for e in entries)} public names.", "",
            "| Keras module | gpunet module | names gpunet has | Keras's names |", "|---|---|---:|---:|"]
    rows += [f"| `{e.keras}` | `{e.gpunet}` | {len(e.supported)} | {e.total} |" for e in entries if e.gpunet]
    missing = [e for e in entries if not e.gpunet]
    rows += ["", f"Keras modules gpunet does not have yet ({len(missing)}, {sum(e.total for e in missing)} names): "
             + ", ".join(f"`{e.keras}`" for e in missing) + ".", "", "The names gpunet has, module by module:", ""]
    rows += [f"- `{e.keras}`: " + (", ".join(f"`{name}`" for name in e.supported) or "none yet")
             for e in entries if e.gpunet]
    return "\n".join(rows)


def docs_with_table(text: str) -> str:
    begin, end = text.index(TABLE_BEGIN) + len(TABLE_BEGIN), text.index(TABLE_END)
    return text[:begin] + "\n" + coverage_table() + "\n" + text[end:]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", action="store_true", help="only rewrite docs/keras.md's table (no Keras needed)")
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 when a file is out of date")
    args = parser.parse_args(argv)
    stale = []
    if not args.docs:
        text = dump(keras_names())
        current = ""
        if os.path.exists(NAMES_FILE):
            with open(NAMES_FILE, encoding="utf-8") as f:
                current = f.read()
        if text != current:
            stale.append(NAMES_FILE)
            if not args.check:
                with open(NAMES_FILE, "w", encoding="utf-8") as f:
                    f.write(text)
    with open(DOCS_FILE, encoding="utf-8") as f:
        docs = f.read()
    if docs_with_table(docs) != docs:
        stale.append(DOCS_FILE)
        if not args.check:
            with open(DOCS_FILE, "w", encoding="utf-8") as f:
                f.write(docs_with_table(docs))
    for path in stale:
        print(f"{'out of date' if args.check else 'rewrote'}: {os.path.relpath(path, ROOT)}")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
