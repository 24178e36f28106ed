import json
from pathlib import Path

import pytest

from indexer.catalog import Product
from indexer.sources import CatalogSourceError, ImportReport, load_mapping, read_catalog

HOMEDEPOT = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "homedepot" / "train.csv"


def read(path: Path, fmt: str = "csv", **kwargs) -> tuple[list[Product], ImportReport]:
    report = ImportReport(source=str(path))
    return list(read_catalog(path, fmt, report=report, **kwargs)), report


def test_bad_rows_are_reported_with_line_and_reason_and_good_rows_kept(tmp_path: Path) -> None:
    path = tmp_path / "shop.csv"
    path.write_text(
        "id,title,price,brand\n"
        "A1,Cordless drill,99.50,Acme\n"
        ",No id,3,X\n"
        "A2,Hammer,abc,Acme\n"
        "A3,Saw,-2,\n"
        "A1,Cordless drill,99.50,Acme\n"
        "A1,Another drill,10,Acme\n"
        "A4,Paint,12,Brushy\n"
    )
    products, report = read(path)
    assert [p.id for p in products] == ["A1", "A4"]
    assert products[0].price == 99.5 and products[0].brand == "Acme"
    reasons = {e.line: e.reason for e in report.errors}
    assert set(reasons) == {3, 4, 5, 7}
    assert reasons[3].startswith("id:")
    assert "price" in reasons[4] and "'abc'" in reasons[4]
    assert "greater than or equal to 0" in reasons[5]
    assert "duplicate id 'A1'" in reasons[7] and "line 2" in reasons[7]
    assert (report.rows, report.valid, report.duplicates) == (7, 2, 1)
    assert "2 valid products" in report.summary() and "4 rows rejected" in report.summary()


def test_wrong_encoding_names_the_row_and_column(tmp_path: Path) -> None:
    path = tmp_path / "latin.csv"
    path.write_bytes(b"id,title\nB1,Caf\xe9 table\nB2,Plain chair\n")
    products, report = read(path)
    assert [p.id for p in products] == ["B2"]
    assert report.errors[0].line == 2 and "not valid utf-8" in report.errors[0].reason
    products, report = read(path, encoding="latin-1")
    assert products[0].title == "Café table" and not report.errors


def test_field_mapping_and_attribute_columns(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_text("sku,name,cost,cat,attr:color,stock\nX9,Blue mug,4.5,Kitchen > Mugs,blue,in stock\n")
    mapping = load_mapping(pairs=["id=sku", "title=name", "price=cost", "category=cat", "availability=stock"])
    (product,), report = read(path, mapping=mapping)
    assert product.id == "X9" and product.title == "Blue mug" and product.price == 4.5
    assert product.category == ("Kitchen", "Mugs")
    assert product.attributes == {"color": "blue"}
    assert product.availability == "in_stock"
    assert product.embedding_text() == "Blue mug | Kitchen > Mugs"
    assert not report.errors and not report.ignored_columns


def test_mapping_file_with_unknown_field_is_refused(tmp_path: Path) -> None:
    mapping = tmp_path / "mapping.json"
    mapping.write_text(json.dumps({"id": "sku", "colour": "c"}))
    with pytest.raises(CatalogSourceError, match="unknown product fields: colour"):
        load_mapping(mapping)


def test_jsonl_reports_invalid_lines(tmp_path: Path) -> None:
    path = tmp_path / "shop.jsonl"
    path.write_text(
        '{"id": "1", "title": "Lamp", "price": 12.5, "category": ["Home", "Lighting"]}\n'
        "\n"
        "{not json}\n"
        '["a list"]\n'
        '{"id": "2", "title": "", "price": 1}\n'
        '{"id": 3, "title": "Rug", "rating": 4.5, "updated_at": "2026-01-02T03:04:05Z"}\n'
    )
    products, report = read(path, "jsonl")
    assert [p.id for p in products] == ["1", "3"]
    assert products[0].category == ("Home", "Lighting")
    assert [e.line for e in report.errors] == [3, 4, 5]
    assert "invalid JSON" in report.errors[0].reason
    assert "title" in report.errors[2].reason


def test_missing_file_and_unknown_format() -> None:
    with pytest.raises(CatalogSourceError, match="does not exist"):
        list(read_catalog(Path("/nonexistent.csv")))
    with pytest.raises(CatalogSourceError, match="unknown format"):
        list(read_catalog(Path(__file__), "xml"))


def test_homedepot_distinct_products() -> None:
    products, report = read(HOMEDEPOT, "homedepot")
    assert report.valid == len(products) == 54_667
    assert len({p.id for p in products}) == 54_667
    # The export repeats products once per judged query; identical repeats are merged, while a
    # handful of ids carry two different titles and are reported.
    assert report.duplicates > 19_000
    assert all("duplicate id" in e.reason for e in report.errors)
