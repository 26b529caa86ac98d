"""The directory of services: the shipped file passes the schema, broken files
are rejected with the entry and field at fault, and unconfirmed contact
details are never shown as if they were real."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from knowledge_base.services import UNCONFIRMED, DirectoryError, haizhu_streets, load_directory
from settings import ROOT, get_settings

SHIPPED = get_settings().services_file


def test_shipped_directory_is_valid_and_complete() -> None:
    directory = load_directory(SHIPPED)
    names = {s.name for s in directory.services}
    for body in (
        "琶洲商事调解室",
        "新业态用工保障联盟调解中心",
        "海珠区社会保险费争议联合处置中心",
        "琶洲法律服务集聚区公共法律服务中心",
        "海珠区劳动人事争议仲裁委员会",
    ):
        assert body in names
    assert len(haizhu_streets()) == 18
    for street in haizhu_streets():
        committee = directory.street_committee(street)
        assert committee is not None and committee.name == f"{street}街道人民调解委员会"
    assert directory.get("legal_aid").kind == "legal_aid"


def test_unconfirmed_details_fall_back_to_the_hotline() -> None:
    service = load_directory(SHIPPED).get("gig_workers_mediation")
    assert service.phone == UNCONFIRMED
    line = service.contact_line()
    assert UNCONFIRMED not in line and "12348" in line
    confirmed = service.model_copy(
        update={"phone": "020-12345678", "address": "海珠区某路1号", "hours": "工作日9:00-17:00"}
    )
    assert confirmed.contact_line() == "地址：海珠区某路1号；电话：020-12345678；时间：工作日9:00-17:00"


def broken(tmp_path: Path, change) -> Path:
    data = yaml.safe_load(SHIPPED.read_text("utf-8"))
    change(data)
    path = tmp_path / "services.yml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")
    return path


@pytest.mark.parametrize(
    "change,expected",
    [
        (lambda d: d["services"][1].update(categories=["labor"]), "gig_workers_mediation"),
        (lambda d: d["services"][1].update(phone="call us"), "phone"),
        (lambda d: d["services"][2].update(id=d["services"][1]["id"]), "appears twice"),
        (lambda d: d["services"][-1].update(streets=["天河"]), "unknown streets"),
        (lambda d: d["services"][0].update(email="x@y"), "email"),
        (lambda d: d["services"][0].pop("name"), "name"),
        (lambda d: d["services"][0].update(fallback_hotline="13800000000"), "national hotline"),
        (lambda d: d["services"][0].update(topics=["labour_unknown"]), "unknown topics"),
    ],
)
def test_broken_files_are_rejected_with_where_and_why(tmp_path, change, expected) -> None:
    with pytest.raises(DirectoryError) as caught:
        load_directory(broken(tmp_path, change))
    assert expected in str(caught.value)


def test_check_command_explains_a_broken_file(tmp_path) -> None:
    bad = broken(tmp_path, lambda d: d["services"][1].update(phone="call us"))
    result = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "python"), "-m", "knowledge_base.services", str(bad)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "services[1] (id gig_workers_mediation).phone" in result.stderr and "Traceback" not in result.stderr
    (tmp_path / "not-yaml.yml").write_text("services: [\n", "utf-8")
    result = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "python"), "-m", "knowledge_base.services", str(tmp_path / "not-yaml.yml")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1 and "not valid YAML" in result.stderr
    ok = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "python"), "-m", "knowledge_base.services", str(SHIPPED)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ok.returncode == 0 and "26 services OK" in ok.stdout
