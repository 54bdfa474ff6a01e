"""The registry import: validation, photos, rejects, idempotence, updates, cascades."""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from ecard.audit.models import AuditEntry
from ecard.cards.models import ECard
from ecard.faces.services import encoding_from_bytes
from ecard.notifications.models import Notification
from ecard.platform import Platform
from ecard.registry.generator import write_registry
from ecard.registry.importer import ImportAborted
from ecard.registry.models import FaceTemplate, Person, PhysicalCard
from tests.registry.conftest import (
    HEADER,
    add_channel,
    add_ecard,
    read_rejects,
    row,
    write_csv,
)
from tests.support.factories import make_id_number

ID1 = make_id_number("110101", "19550307", "123")
ID2 = make_id_number("440305", "19620511", "224")
ID3 = make_id_number("310104", "19701231", "031")
ID4 = make_id_number("330106", "19801001", "046")
ID5 = make_id_number("510107", "19450101", "057")

Importer = Callable[..., Any]


def count(platform: Platform, model: Any) -> int:
    with platform.db.transaction() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def persons(platform: Platform) -> dict[str, Person]:
    with platform.db.transaction() as s:
        return {platform.protector.decrypt_str(p.id_number_enc, "person.id_number"): p
                for p in s.scalars(select(Person))}


def cards(platform: Platform) -> dict[str, PhysicalCard]:
    with platform.db.transaction() as s:
        return {c.card_no: c for c in s.scalars(select(PhysicalCard))}


def test_import_with_photos(platform: Platform, importer_for: Importer, faces_dir: Path,
                            tmp_path: Path) -> None:
    src = write_csv(tmp_path / "persons.csv", [
        row(ID1, aaz500="A00000001", photo="people/person_04/img1.jpg"),
        row(ID2, aac003="李秀英", aab301="440305", aaz500="A00000002",
            photo="people/person_05/img1.jpg", card_status="lost"),
        row(ID3, aac003="王五", aaz500="A00000003", photo="special/no_face/dogs.jpg"),
        row(ID4, aac003="赵六", aaz500="A00000004", photo="special/multi_face/two_people.jpg"),
        row(ID5, aac003="孙七", aaz500="A00000005", card_status="replaced",
            replaced_by="N00000005", bank_account="", reserved_phone=""),
    ], bom=True)
    summary = importer_for().run(src, photos_dir=faces_dir)
    assert (summary.read, summary.inserted, summary.rejected, summary.photos_enrolled) == (
        5, 3, 2, 2)
    assert dict(summary.reasons) == {"FACE_NOT_FOUND": 1, "FACE_MULTIPLE": 1}

    found = persons(platform)
    assert set(found) == {ID1, ID2, ID5}
    p1 = found[ID1]
    assert p1.id_masked == ID1[:4] + "*" * 10 + ID1[-4:]
    assert platform.protector.decrypt_str(p1.name_enc, "person.name") == "张三"
    assert p1.name_masked == "*三" and p1.gender == "1" and p1.birth_date.year == 1955
    assert found[ID2].gender == "2"  # sequence 224: even
    c = cards(platform)
    assert c["A00000002"].status == "lost"
    assert platform.protector.decrypt_str(c["A00000001"].bank_account_enc or b"",
                                          "card.bank_account") == "6222020200112233445"
    assert platform.protector.decrypt_str(c["A00000001"].reserved_phone_enc or b"",
                                          "card.reserved_phone") == "13800138000"
    assert (c["A00000005"].status, c["A00000005"].replaced_by) == ("replaced", "N00000005")
    assert c["N00000005"].status == "active"
    assert c["N00000005"].person_id == found[ID5].id
    assert c["N00000005"].bank_account_enc is None

    with platform.db.transaction() as s:
        tpl = s.get(FaceTemplate, p1.id)
        assert tpl is not None
        enc = encoding_from_bytes(platform.protector.decrypt(tpl.template_enc,
                                                             "face_template.template"))
        assert enc.shape == (128,)
        photo = (faces_dir / "people/person_04/img1.jpg").read_bytes()
        assert platform.protector.decrypt(tpl.photo_enc, "face_template.photo") == photo
        audit = s.scalars(select(AuditEntry).where(AuditEntry.action == "registry.imported")
                          ).all()
        assert len(audit) == 1  # one entry per run, not per row
        assert audit[0].details["inserted"] == 3 and audit[0].details["rejected"] == 2

    rejects = read_rejects(Path(summary.rejects_path))
    assert summary.rejects_path == str(tmp_path / "persons.csv.rejects.csv")
    assert [(r["line"], r["reason_code"]) for r in rejects] == [
        ("4", "FACE_NOT_FOUND"), ("5", "FACE_MULTIPLE")]
    assert rejects[0]["aac002"] == ID3  # the row as given, for the operator to fix
    assert rejects[0]["photo"] == "special/no_face/dogs.jpg"
    assert "face" in rejects[0]["reason"].lower()
    assert list(rejects[0])[:len(HEADER)] == HEADER
    assert summary.examples[0] == (4, "FACE_NOT_FOUND", ID3[:4] + "*" * 10 + ID3[-4:])

    # a re-run changes nothing and says so (no photo is encoded again)
    again = importer_for().run(src, photos_dir=faces_dir)
    assert (again.inserted, again.updated, again.unchanged, again.rejected,
            again.photos_enrolled) == (0, 0, 3, 2, 0)
    assert count(platform, Person) == 3


def test_malformed_rows_of_every_kind(platform: Platform, importer_for: Importer,
                                      tmp_path: Path) -> None:
    good = row(ID1)
    src = tmp_path / "in.csv"
    with src.open("w", encoding="utf-8", newline="") as fh:
        fh.write(",".join(HEADER) + "\n")
        fh.write(",".join(good[h] for h in HEADER) + "\n")  # line 2: fine
        fh.write("\n")  # line 3: blank, skipped
        fh.write(",".join(row(ID2[:-1] + ("0" if ID2[-1] != "0" else "1"),
                              aaz500="A00000002")[h] for h in HEADER) + "\n")  # 4
        fh.write(",".join(row(ID3, aaz500="A00000003")[h] for h in HEADER[:-3]) + "\n")  # 5
        fh.write(",".join(row(ID1, aaz500="A00000004")[h] for h in HEADER) + "\n")  # 6 dup ID
        fh.write(",".join(row(ID4, aaz500="a12345678")[h] for h in HEADER) + "\n")  # 7 dup card
        fh.write(",".join(row(ID5, aaz500="A00000005", photo="../etc/passwd")[h]
                          for h in HEADER) + "\n")  # 8
        fh.write(",".join(row(make_id_number(seq="777"), aaz500="A00000006",
                              photo="missing.jpg")[h] for h in HEADER) + "\n")  # 9
        fh.write(",".join(row(make_id_number(seq="778"), aaz500="A00000007",
                              aac003="\"张\n3\"")[h] for h in HEADER) + "\n")  # 10-11
        fh.write(",".join(row(make_id_number(seq="779"), aaz500="A00000008",
                              card_status="replaced", replaced_by="A12345678")[h]
                          for h in HEADER) + "\n")  # 12: replacement is line 2's card
    with src.open("ab") as fh:
        fh.write(",".join(row(make_id_number(seq="780"), aaz500="A00000009")[h]
                          for h in HEADER).replace("张三", "张").encode() + b"\xff\n")  # 13
    summary = importer_for(batch_size=3).run(src, photos_dir=tmp_path)
    rejects = {int(r["line"]): r for r in read_rejects(Path(summary.rejects_path))}
    assert {k: v["reason_code"] for k, v in rejects.items()} == {
        4: "ID_CHECK_DIGIT", 5: "COLUMN_COUNT", 6: "DUPLICATE_ID_IN_FILE",
        7: "DUPLICATE_CARD_IN_FILE", 8: "PHOTO_PATH_INVALID", 9: "PHOTO_NOT_FOUND",
        10: "NAME_INVALID", 12: "DUPLICATE_CARD_IN_FILE", 13: "ENCODING_INVALID"}
    assert "line 2" in rejects[6]["reason"]
    assert rejects[5]["card_status"] == ""  # short row padded to the header
    assert (summary.read, summary.inserted, summary.rejected) == (10, 1, 9)
    assert (tmp_path / "in.csv.rejects.csv").read_bytes().count(b"\xff") == 1  # kept as given


def test_changed_rows_are_updated(platform: Platform, importer_for: Importer,
                                  faces_dir: Path, tmp_path: Path) -> None:
    first = [row(ID1, aaz500="A00000001"), row(ID2, aaz500="A00000002", aab301="440305")]
    importer_for().run(write_csv(tmp_path / "v1.csv", first))
    before = persons(platform)[ID1]
    second = [row(ID1, aaz500="A00000001", aac003="张三丰", reserved_phone="13900139000",
                  card_generation="2", photo="people/person_04/img1.jpg"),
              row(ID2, aaz500="A00000002", aab301="440305")]
    summary = importer_for().run(write_csv(tmp_path / "v2.csv", second), photos_dir=faces_dir)
    assert (summary.updated, summary.unchanged, summary.photos_enrolled) == (1, 1, 1)
    after = persons(platform)[ID1]
    assert after.id == before.id and after.row_hash != before.row_hash
    assert platform.protector.decrypt_str(after.name_enc, "person.name") == "张三丰"
    assert after.name_masked == "**丰"
    c = cards(platform)["A00000001"]
    assert c.generation == 2
    assert platform.protector.decrypt_str(c.reserved_phone_enc or b"",
                                          "card.reserved_phone") == "13900139000"
    assert count(platform, FaceTemplate) == 1
    # a new photo replaces the template
    third = [{**second[0], "photo": "people/person_05/img1.jpg"}]
    summary = importer_for().run(write_csv(tmp_path / "v3.csv", third), photos_dir=faces_dir)
    assert (summary.updated, summary.photos_enrolled) == (1, 1)
    with platform.db.transaction() as s:
        tpl = s.get(FaceTemplate, after.id)
        assert tpl is not None
        assert tpl.photo_sha256 != "" and count(platform, FaceTemplate) == 1


def test_card_owned_by_another_person(platform: Platform, importer_for: Importer,
                                      tmp_path: Path) -> None:
    importer_for().run(write_csv(tmp_path / "a.csv", [row(ID1, aaz500="A00000001")]))
    owned = importer_for().run(write_csv(tmp_path / "b.csv", [row(ID2, aaz500="A00000001")]))
    assert dict(owned.reasons) == {"CARD_OWNED_BY_OTHER": 1}
    successor = importer_for().run(write_csv(tmp_path / "c.csv", [
        row(ID3, aaz500="A00000003", card_status="replaced", replaced_by="A00000001")]))
    assert dict(successor.reasons) == {"REPLACEMENT_CARD_INVALID": 1}
    assert count(platform, Person) == 1


def test_status_change_in_a_row_cascades(platform: Platform, importer_for: Importer,
                                         tmp_path: Path) -> None:
    importer_for().run(write_csv(tmp_path / "a.csv", [row(ID1, aaz500="A00000001")]))
    add_channel(platform, "1000000001")
    add_ecard(platform, "A00000001", "1000000001", "S1")
    lost = importer_for().run(write_csv(tmp_path / "b.csv", [
        row(ID1, aaz500="A00000001", card_status="lost")]))
    assert (lost.updated, lost.status_changes) == (1, 1)
    with platform.db.transaction() as s:
        assert s.scalars(select(ECard.status)).one() == "suspended"
        assert s.scalars(select(Notification.event)).all() == ["suspended"]
    replaced = importer_for().run(write_csv(tmp_path / "c.csv", [
        row(ID1, aaz500="A00000001", card_status="replaced", replaced_by="N00000001")]))
    assert replaced.status_changes == 1
    c = cards(platform)
    with platform.db.transaction() as s:
        ecard = s.scalars(select(ECard)).one()
        assert (ecard.status, ecard.card_id) == ("active", c["N00000001"].id)
        assert s.scalars(select(Notification.event).order_by(Notification.id)).all() == [
            "suspended", "rebound"]
    # replaced is final: a file that says the old card is active again is refused
    back = importer_for().run(write_csv(tmp_path / "d.csv", [
        row(ID1, aaz500="A00000001", card_status="active")]))
    assert dict(back.reasons) == {"STATUS_TRANSITION_INVALID": 1}
    assert cards(platform)["A00000001"].status == "replaced"


def test_a_new_card_number_for_a_known_person_replaces_the_old_card(
        platform: Platform, importer_for: Importer, tmp_path: Path) -> None:
    importer_for().run(write_csv(tmp_path / "a.csv", [row(ID1, aaz500="A00000001")]))
    add_channel(platform, "1000000001")
    add_ecard(platform, "A00000001", "1000000001", "S1")
    summary = importer_for().run(write_csv(tmp_path / "b.csv", [
        row(ID1, aaz500="B00000001", card_generation="3", bank_code="CCB")]))
    assert (summary.updated, summary.status_changes) == (1, 1)
    c = cards(platform)
    assert (c["A00000001"].status, c["A00000001"].replaced_by) == ("replaced", "B00000001")
    assert (c["B00000001"].status, c["B00000001"].bank_code) == ("active", "CCB")
    with platform.db.transaction() as s:
        assert s.scalars(select(ECard.card_id)).one() == c["B00000001"].id


def test_bad_files_abort_with_a_message(importer_for: Importer, tmp_path: Path) -> None:
    with pytest.raises(ImportAborted, match="cannot read"):
        importer_for().run(tmp_path / "missing.csv")
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(ImportAborted, match="empty"):
        importer_for().run(empty)
    bad = write_csv(tmp_path / "bad.csv", [], header=["aac002", "name"])
    with pytest.raises(ImportAborted, match="bad header"):
        importer_for().run(bad)


def test_import_streams_with_bounded_memory(platform: Platform, importer_for: Importer,
                                            tmp_path: Path) -> None:
    """Peak memory does not grow with the file: 5x the rows, about the same peak."""

    def peak_of(n: int, seed: int, ticks: list[int]) -> tuple[int, Any]:
        src = tmp_path / f"gen{n}.csv"
        write_registry(src, n, seed=seed)
        tracemalloc.start()
        try:
            summary = importer_for(batch_size=500,
                                   progress=lambda done, rows: ticks.append(rows)).run(src)
            return tracemalloc.get_traced_memory()[1], summary
        finally:
            tracemalloc.stop()

    ticks: list[int] = []
    small_peak, small = peak_of(2_000, 5, [])
    big_peak, big = peak_of(10_000, 6, ticks)
    assert small.inserted + small.rejected == 2_000
    assert big.inserted + big.rejected == 10_000 and big.inserted > 9_900
    assert ticks[:3] == [500, 1000, 1500] and ticks[-1] == 10_000
    # rows held as objects would take about 2 KB each: 10k rows, some 20 MB
    assert big_peak < 1.5 * small_peak + 2 * 2**20, (small_peak, big_peak)
    assert big_peak < 32 * 2**20, f"peak {big_peak / 2**20:.1f} MiB"
