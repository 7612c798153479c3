"""The JSON schema of every contract message, generated from the code.

``python -m synthwatch.contract.schemas DIR`` writes one ``<name>.json`` per message (default
``contract/json_schemas/`` in a checkout); a test fails when the committed files drift from the
code, so a change to the contract is always a visible change to its schema.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from synthwatch.contract.messages import SCHEMAS


def schema_documents() -> dict[str, str]:
    """File name → JSON text (sorted keys, two-space indent, trailing newline)."""
    out = {}
    for schema_id, cls in SCHEMAS.items():
        name = schema_id.split(".", 1)[1].replace("/", "-v") + ".json"
        doc = cls.model_json_schema(by_alias=True)
        doc["$id"] = schema_id
        out[name] = json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    return out


def write(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, text in schema_documents().items():
        path = directory / name
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths


if __name__ == "__main__":  # pragma: no cover
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent / "json_schemas"
    for p in write(target):
        print(p)
