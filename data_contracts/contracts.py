"""Load the YAML contracts: one per canonical table (canonical/*.yaml) and one mapping per source format
(mappings/*.yaml). Everything downstream — detection signatures, readers, row rules, GX suites — reads these."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class FieldSpec:
    name: str
    cols: tuple[
        str, ...
    ]  # candidate header names, first present wins (``name#2`` = second column of that name)
    type: str  # id | text | name | phone | email | timestamp | epoch_s | epoch_ms | money | int | content
    required: bool = False
    pattern: str | None = None


@dataclass(frozen=True)
class Mapping:
    format: str
    title: str
    kind: str  # csv | xlsx | jsonl | json
    target: str  # orders | order_lines | customers | messages | invites | group_detail
    source: str
    priority: int
    signature: tuple[str, ...] = ()
    money_unit: str = "yuan"
    line_items: bool = False
    fields: dict[str, FieldSpec] = field(default_factory=dict)
    values: dict[str, dict] = field(default_factory=dict)
    validate: dict[str, tuple[str, ...]] = field(default_factory=dict)
    require_any: tuple[str, ...] = ()
    layout: tuple[str, ...] = ()

    def required_columns(self) -> list[tuple[str, ...]]:
        return [f.cols for f in self.fields.values() if f.required]


@dataclass(frozen=True)
class TableContract:
    table: str
    description: str
    key: tuple[str, ...]
    columns: dict[str, dict]


def _field(name: str, spec: dict) -> FieldSpec:
    cols = spec["col"]
    cols = tuple(cols) if isinstance(cols, list) else (cols,)
    return FieldSpec(
        name, cols, spec.get("type", "text"), bool(spec.get("required", False)), spec.get("pattern")
    )


@lru_cache(maxsize=1)
def mappings() -> dict[str, Mapping]:
    out = {}
    for p in sorted((HERE / "mappings").glob("*.yaml")):
        d = yaml.safe_load(p.read_text(encoding="utf-8"))
        out[d["format"]] = Mapping(
            format=d["format"],
            title=d.get("title", d["format"]),
            kind=d["kind"],
            target=d["target"],
            source=d["source"],
            priority=int(d.get("priority", 100)),
            signature=tuple(d.get("signature", ())),
            money_unit=d.get("money_unit", "yuan"),
            line_items=bool(d.get("line_items", False)),
            fields={k: _field(k, v) for k, v in (d.get("fields") or {}).items()},
            values={k: {str(a): b for a, b in v.items()} for k, v in (d.get("values") or {}).items()},
            validate={k: tuple(v) for k, v in (d.get("validate") or {}).items()},
            require_any=tuple(d.get("require_any", ())),
            layout=tuple(d.get("layout", ())),
        )
    return out


def mapping(fmt: str) -> Mapping:
    try:
        return mappings()[fmt]
    except KeyError as exc:
        raise KeyError(f"no mapping YAML for format {fmt!r} in data_contracts/mappings/") from exc


@lru_cache(maxsize=1)
def tables() -> dict[str, TableContract]:
    out = {}
    for p in sorted((HERE / "canonical").glob("*.yaml")):
        d = yaml.safe_load(p.read_text(encoding="utf-8"))
        out[d["table"]] = TableContract(
            d["table"], d.get("description", ""), tuple(d.get("key", ())), d["columns"]
        )
    return out


def header_signatures() -> dict[str, tuple[str, ...]]:
    """format → header names that must all be present, most specific (lowest priority number) first."""
    ms = sorted((m for m in mappings().values() if m.signature), key=lambda m: m.priority)
    return {m.format: m.signature for m in ms}
