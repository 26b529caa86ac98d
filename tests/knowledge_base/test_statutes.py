"""Statute ingestion: laws.db, markdown statutes, versions and malformed files."""

from __future__ import annotations

from pathlib import Path

import pytest

from knowledge_base.chinese_numerals import parse_chinese_number, to_chinese_number
from knowledge_base.corpus.statutes import IN_FORCE, load_corpus, normalise_law_name, parse_markdown_statute
from settings import get_settings

STATUTE = """# 某市房屋租赁条例

<!-- INFO END -->

## 第一章　总则

第一条 为了规范房屋租赁，制定本条例。

### 第一节 一般规定

第二条　出租人应当履行维修义务。

承租人可以请求出租人在合理期限内维修。

第二条之一 出租人不得擅自断水断电。

## 第二章 附则

第一百零三条 本条例自公布之日起施行。
"""


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


@pytest.mark.parametrize(
    "text,number",
    [("一", 1), ("十", 10), ("十五", 15), ("二十", 20), ("一百零三", 103), ("二百七十八", 278), ("一千二百六十", 1260)],
)
def test_chinese_numerals_both_ways(text: str, number: int) -> None:
    assert parse_chinese_number(text) == number
    assert to_chinese_number(number) == text


def test_law_names_are_normalised() -> None:
    assert normalise_law_name("《中华人民共和国劳动合同法》") == "劳动合同法"
    assert normalise_law_name("中华人民共和国 民法典") == "民法典"
    assert normalise_law_name("保障农民工工资支付条例") == "保障农民工工资支付条例"


def test_markdown_statute_articles_chapters_sections(tmp_path: Path) -> None:
    path = write(tmp_path / "某市房屋租赁条例(2021-09-29).md", STATUTE)
    articles, problems = parse_markdown_statute(path)
    assert problems == []
    by_label = {a.label: a for a in articles}
    assert list(by_label) == ["第一条", "第二条", "第二条之一", "第一百零三条"]
    second = by_label["第二条"]
    assert second.number == 2 and second.text == "出租人应当履行维修义务。\n承租人可以请求出租人在合理期限内维修。"
    assert second.chapter == "第一章 总则" and second.section == "第一节 一般规定"
    assert by_label["第一百零三条"].number == 103 and by_label["第一百零三条"].chapter == "第二章 附则"
    assert second.version_date == "2021-09-29" and second.status == IN_FORCE


def test_malformed_files_are_reported_and_the_rest_builds(tmp_path: Path) -> None:
    write(tmp_path / "good(2020-01-01).md", STATUTE)
    write(tmp_path / "gbk.md", "# 条例\n\n第一条 内容。\n", encoding="gbk")
    write(tmp_path / "notitle.md", "第一条 没有标题。\n")
    write(tmp_path / "empty_article.md", "# 某条例\n\n第一条\n\n第二条 有内容。\n第二条 又一次。\n")
    corpus = load_corpus([tmp_path], include_lawsdb=False)
    reasons = {Path(p.file).name: p for p in corpus.problems}
    assert "not UTF-8" in reasons["gbk.md"].why
    assert reasons["notitle.md"].line == 1
    problems = [p for p in corpus.problems if Path(p.file).name == "empty_article.md"]
    assert {p.line for p in problems} == {3, 6}
    assert len([a for a in corpus.articles if a.law == "某市房屋租赁条例"]) == 4
    assert [a.label for a in corpus.articles if a.law == "某条例"] == ["第二条"]


def test_same_law_from_two_sources_newest_wins(tmp_path: Path) -> None:
    old, new = tmp_path / "old", tmp_path / "new"
    old.mkdir(), new.mkdir()
    write(old / "某市房屋租赁条例(2010-01-01).md", STATUTE.replace("维修义务", "旧的维修义务"))
    write(new / "某市房屋租赁条例(2021-09-29).md", STATUTE)
    corpus = load_corpus([old, new], include_lawsdb=False)
    indexed = [a for a in corpus.in_force() if a.number == 2 and a.label == "第二条"]
    assert len(indexed) == 1 and indexed[0].version_date == "2021-09-29"
    versions = [a for a in corpus.lookup("某市房屋租赁条例", 2) if a.label == "第二条"]
    assert [(a.version_date, a.status) for a in versions] == [("2021-09-29", "现行有效"), ("2010-01-01", "历史版本")]


def test_lawsdb_national_laws_with_status() -> None:
    corpus = load_corpus([], include_lawsdb=True)
    in_force = corpus.in_force()
    assert len(in_force) > 20_000
    art278 = corpus.lookup("中华人民共和国民法典", 278)[0]
    assert art278.status == IN_FORCE and art278.label == "第二百七十八条"
    assert "业主共同决定" in art278.text and "建筑物区分所有权" in art278.chapter
    statuses = {a.status for a in corpus.articles}
    assert {"已废止", "历史版本"} <= statuses
    assert all(a.status == IN_FORCE for a in in_force)
    for law in (
        "劳动合同法",
        "劳动法",
        "劳动争议调解仲裁法",
        "社会保险法",
        "人民调解法",
        "法律援助法",
        "特种设备安全法",
        "行政复议法",
    ):
        assert any(a.law == law for a in in_force), law


def test_shared_statutes_all_read() -> None:
    dirs = get_settings().statute_dirs
    assert dirs, "../shared/corpus/statutes is expected beside the checkout (or STATUTE_DIRS)"
    corpus = load_corpus(dirs, include_lawsdb=False)
    files = {Path(a.source).name for a in corpus.articles} | {Path(p.file).name for p in corpus.problems}
    assert len(files) == len(list(dirs[0].glob("*.md")))
    laws = {a.law for a in corpus.articles}
    assert {"保障农民工工资支付条例", "工伤保险条例", "广东省城镇房屋租赁条例", "物业管理条例"} <= laws
    wage = corpus.lookup("保障农民工工资支付条例", 30)[0]
    assert wage.chapter.startswith("第四章") and "施工总承包单位" in wage.text


NOTICE = """# 关于某项工资折算问题的通知

某发[2008]3号

<!-- INFO END -->

各省劳动保障厅：

## 一、制度工作时间的计算

年工作日：250天

## 二、日工资、小时工资的折算

日工资：月工资收入÷月计薪天数

月计薪天数＝（365天-104天）÷12月＝21.75天

## 三
原通知同时废止。
"""


def test_a_notice_without_articles_is_quotable_by_its_numbered_parts(tmp_path: Path) -> None:
    path = write(tmp_path / "关于某项工资折算问题的通知(2009-03-29).md", NOTICE)
    articles, problems = parse_markdown_statute(path)
    assert problems == []
    assert [(a.number, a.label, a.chapter) for a in articles] == [
        (1, "第一部分", "制度工作时间的计算"),
        (2, "第二部分", "日工资、小时工资的折算"),
        (3, "第三部分", ""),
    ]
    assert articles[1].text == "日工资：月工资收入÷月计薪天数\n月计薪天数＝（365天-104天）÷12月＝21.75天"
    assert articles[1].citation == "《关于某项工资折算问题的通知》第二部分"
    # the preamble before the first part is not law
    assert all("各省" not in a.text for a in articles)


def test_numbered_headings_in_a_law_with_articles_stay_headings(tmp_path: Path) -> None:
    path = write(tmp_path / "某条例(2020-01-01).md", "# 某条例\n\n## 一、总则\n\n第一条 内容。\n")
    articles, problems = parse_markdown_statute(path)
    assert problems == [] and [a.label for a in articles] == ["第一条"]
