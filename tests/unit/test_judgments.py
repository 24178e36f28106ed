from pathlib import Path

import pytest

from evaluation.judgments import JudgmentsError, load_csv, load_homedepot, load_trec, select_split, split_of

HOMEDEPOT = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "homedepot" / "train.csv"


def test_csv_with_mapped_columns_and_bad_grade(tmp_path: Path) -> None:
    path = tmp_path / "j.csv"
    path.write_text("q,pid,rel\nCordless  Drill,A,2\ncordless drill,B,0\n")
    assert load_csv(path, "q", "pid", "rel") == {"cordless drill": {"A": 2.0, "B": 0.0}}
    path.write_text("q,pid,rel\ndrill,A,-1\n")
    with pytest.raises(JudgmentsError, match="j.csv:2: grade -1.0 is negative"):
        load_csv(path, "q", "pid", "rel")
    with pytest.raises(JudgmentsError, match="missing column"):
        load_csv(path)


def test_trec_qrels_with_topics(tmp_path: Path) -> None:
    (tmp_path / "topics.tsv").write_text("1\tCordless drill\n2\tpaint\n")
    (tmp_path / "qrels").write_text("1 0 A 2\n1 0 B 0\n2 0 C 1\n")
    assert load_trec(tmp_path / "qrels", tmp_path / "topics.tsv") == {
        "cordless drill": {"A": 2.0, "B": 0.0}, "paint": {"C": 1.0}}
    (tmp_path / "qrels").write_text("9 0 A 2\n")
    with pytest.raises(JudgmentsError, match="query id '9'"):
        load_trec(tmp_path / "qrels", tmp_path / "topics.tsv")


def test_split_is_fixed_and_about_a_fifth() -> None:
    judgments = load_homedepot(HOMEDEPOT)
    assert len(judgments) == 11_793  # 11,795 raw search terms; two differ only in case or spacing
    test = select_split(judgments, "test")
    assert 0.17 < len(test) / len(judgments) < 0.23
    assert split_of("Cordless  DRILL") == split_of("cordless drill")
    assert all(0.0 <= g <= 2.0 for grades in judgments.values() for g in grades.values())


def test_train_and_test_split_are_disjoint_on_the_real_judgments() -> None:
    """No test query (after normalisation) and so none of its judgments can reach training or a choice:
    the validation slice that early stopping and gates use is carved out of train only."""
    from core.queries import normalize_query
    from ltr.ranker.job import is_validation_query

    judgments = load_homedepot(HOMEDEPOT)
    train, test = select_split(judgments, "train"), select_split(judgments, "test")
    assert train and test and len(train) + len(test) == len(judgments)
    assert not {normalize_query(q) for q in train} & {normalize_query(q) for q in test}
    validation = [q for q in train if is_validation_query(q)]
    assert 0.10 < len(validation) / len(train) < 0.20
    assert all(split_of(q) == "train" for q in validation)
