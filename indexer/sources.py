"""Read catalogue files (CSV, JSONL, the Home Depot export) into validated products.

Reading streams row by row. A bad row is recorded with its line number and reason and
skipped, while the good rows keep flowing. The caller gets an :class:`ImportReport` to
print at the end.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from indexer.catalog import Product, describe_validation_error

PRODUCT_FIELDS = tuple(Product.model_fields)
FORMATS = ("csv", "jsonl", "homedepot")
HOMEDEPOT_MAPPING = {"id": "product_uid", "title": "product_title"}
ATTRIBUTE_PREFIX = "attr:"


class CatalogSourceError(ValueError):
    """The file as a whole cannot be read (missing, wrong format, bad mapping)."""


@dataclass(frozen=True)
class RowError:
    line: int
    reason: str


@dataclass
class ImportReport:
    source: str
    rows: int = 0
    valid: int = 0
    duplicates: int = 0
    errors: list[RowError] = field(default_factory=list)
    ignored_columns: set[str] = field(default_factory=set)

    def summary(self) -> str:
        text = (f"{self.source}: {self.rows} rows, {self.valid} valid products, "
                f"{self.duplicates} identical duplicates merged, {len(self.errors)} rows rejected")
        if self.ignored_columns:
            text += f"; ignored columns: {', '.join(sorted(self.ignored_columns))}"
        return text


def load_mapping(path: Path | None = None, pairs: list[str] | None = None) -> dict[str, str]:
    """Product field -> source column, from a JSON file and/or ``field=column`` pairs."""
    mapping: dict[str, str] = {}
    if path is not None:
        try:
            loaded = json.loads(Path(path).read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise CatalogSourceError(f"cannot read mapping file {path}: {exc}") from exc
        if not isinstance(loaded, dict) or not all(isinstance(v, str) for v in loaded.values()):
            raise CatalogSourceError(f"mapping file {path} must be a JSON object of field -> column names")
        mapping.update(loaded)
    for pair in pairs or []:
        if "=" not in pair:
            raise CatalogSourceError(f"mapping {pair!r} must look like field=column")
        key, value = pair.split("=", 1)
        mapping[key.strip()] = value.strip()
    unknown = set(mapping) - set(PRODUCT_FIELDS)
    if unknown:
        raise CatalogSourceError(
            f"mapping names unknown product fields: {', '.join(sorted(unknown))} "
            f"(known: {', '.join(PRODUCT_FIELDS)})"
        )
    return mapping


def _apply_mapping(record: dict[str, object], mapping: dict[str, str], report: ImportReport) -> dict[str, object]:
    source_to_field = {mapping.get(name, name): name for name in PRODUCT_FIELDS}
    row: dict[str, object] = {}
    attributes: dict[str, object] = {}
    for key, value in record.items():
        if key in source_to_field:
            row[source_to_field[key]] = value
        elif isinstance(key, str) and key.startswith(ATTRIBUTE_PREFIX):
            if value not in (None, ""):
                attributes[key[len(ATTRIBUTE_PREFIX):]] = value
        else:
            report.ignored_columns.add(str(key))
    if attributes:
        merged = dict(row.get("attributes") or {}) if isinstance(row.get("attributes"), dict) else {}
        row["attributes"] = {**merged, **attributes}
    return row


def _csv_records(path: Path, encoding: str) -> Iterator[tuple[int, dict[str, object] | RowError]]:
    raw = path.read_bytes()
    # surrogateescape keeps undecodable bytes visible per row instead of failing the file.
    text = raw.decode(encoding, errors="surrogateescape")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    if not reader.fieldnames:
        raise CatalogSourceError(f"{path} is empty or has no header row")
    for record in reader:
        line = reader.line_num
        if None in record:
            yield line, RowError(line, f"has {len(record[None]) + len(reader.fieldnames)} columns, header has {len(reader.fieldnames)}")
            continue
        bad = next((k for k, v in record.items() if isinstance(v, str) and _has_surrogates(v)), None)
        if bad is not None:
            yield line, RowError(line, f"column {bad!r} is not valid {encoding} (pass --encoding, e.g. latin-1)")
            continue
        yield line, dict(record)


def _jsonl_records(path: Path, encoding: str) -> Iterator[tuple[int, dict[str, object] | RowError]]:
    with path.open("rb") as handle:
        for line_number, raw in enumerate(handle, start=1):
            try:
                text = raw.decode(encoding)
            except UnicodeDecodeError as exc:
                yield line_number, RowError(line_number, f"not valid {encoding} at byte {exc.start} (pass --encoding)")
                continue
            if not text.strip():
                continue
            try:
                record = json.loads(text)
            except json.JSONDecodeError as exc:
                yield line_number, RowError(line_number, f"invalid JSON: {exc.msg} at column {exc.colno}")
                continue
            if not isinstance(record, dict):
                yield line_number, RowError(line_number, "a JSONL line must be a JSON object")
                continue
            yield line_number, record


def _has_surrogates(value: str) -> bool:
    return any("\udc80" <= ch <= "\udcff" for ch in value)


def read_catalog(path: Path, fmt: str = "csv", mapping: dict[str, str] | None = None, encoding: str | None = None,
                 report: ImportReport | None = None) -> Iterator[Product]:
    """Valid products of ``path``, in file order; problems go to ``report``.

    The first occurrence of an id wins. A later row with the same id and identical content
    is merged silently. One with different content is rejected, and the rejection names
    the line it conflicts with.
    """
    path = Path(path)
    if fmt not in FORMATS:
        raise CatalogSourceError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    if not path.is_file():
        raise CatalogSourceError(f"catalogue file {path} does not exist")
    if report is None:
        report = ImportReport(source=str(path))
    if fmt == "homedepot":
        mapping, encoding = {**HOMEDEPOT_MAPPING, **(mapping or {})}, encoding or "latin-1"
    records = _jsonl_records(path, encoding or "utf-8") if fmt == "jsonl" else _csv_records(path, encoding or "utf-8")
    seen: dict[str, tuple[int, str]] = {}
    for line, record in records:
        report.rows += 1
        if isinstance(record, RowError):
            report.errors.append(record)
            continue
        row = _apply_mapping(record, mapping or {}, report)
        if fmt == "homedepot":
            report.ignored_columns.clear()  # the competition file has judgment columns by design
        try:
            product = Product.model_validate(row)
        except ValidationError as exc:
            report.errors.append(RowError(line, describe_validation_error(exc)))
            continue
        except (ValueError, TypeError) as exc:
            report.errors.append(RowError(line, str(exc)))
            continue
        digest = product.content_hash()
        if product.id in seen:
            first_line, first_digest = seen[product.id]
            if first_digest == digest:
                report.duplicates += 1
            else:
                report.errors.append(RowError(line, f"duplicate id {product.id!r} with different data than line {first_line}"))
            continue
        seen[product.id] = (line, digest)
        report.valid += 1
        yield product
