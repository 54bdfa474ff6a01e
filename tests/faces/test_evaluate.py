"""``ecard faces evaluate`` on a small manifest of shared photos, and on the full set."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from ecard.cli import main
from ecard.config import DEFAULTS
from ecard.faces.evaluate import evaluate_manifest, select_photos


def _entry(path: str, identity: str | None, kind: str = "photo", faces: int = 1,
           **extra: Any) -> dict[str, Any]:
    return {"path": path, "identity": identity, "kind": kind,
            "faces": [{"box_top_right_bottom_left": [0, 1, 1, 0]}] * faces, **extra}


@pytest.fixture
def small_manifest(faces_dir: Path, tmp_path: Path) -> Path:
    """Five real photos of three people in the manifest format, plus entries that must
    be left out. person_08's second photo is, on purpose, the giraffe of
    special/no_face: a photo of which no face can be taken (a failure to acquire)."""
    copies = {
        "p/person_01/a_obama.jpg": "people/person_01/obama.jpg",
        "p/person_01/b_obama2.jpg": "people/person_01/obama2.jpg",
        "p/person_02/a_biden2.jpg": "people/person_02/biden2.jpg",
        "p/person_08/a_clapton-1.jpg": "people/person_08/clapton-1.jpg",
        "p/person_08/b_giraffe.jpg": "special/no_face/giraffe.jpg",
        "p/person_07/b_lennon-2.jpg": "people/person_07/lennon-2.jpg",
    }
    for dst, src in copies.items():
        (tmp_path / dst).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(faces_dir / src, tmp_path / dst)
    files = [_entry(dst, dst.split("/")[1]) for dst in sorted(copies)]
    files += [
        _entry("p/person_01/two.jpg", None, kind="multi_face", faces=2),
        _entry("p/person_01/dark.jpg", "person_01", kind="derived_dark",
               derived_from="p/person_01/a_obama.jpg"),
        _entry("frames/f1.jpg", "person_01", kind="liveness_frame"),
    ]
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps({"name": "small", "files": files}), encoding="utf-8")
    return path


def test_select_photos_keeps_single_identity_photos(small_manifest: Path) -> None:
    photos, skipped = select_photos(json.loads(small_manifest.read_text(encoding="utf-8")))
    assert photos["person_01"] == ["p/person_01/a_obama.jpg", "p/person_01/b_obama2.jpg"]
    assert set(photos) == {"person_01", "person_02", "person_07", "person_08"}
    assert skipped == {"derived_dark": 1, "liveness_frame": 1, "multi_face": 1}


def test_evaluate_small_manifest(small_manifest: Path) -> None:
    seen: list[tuple[int, int]] = []
    report = evaluate_manifest(small_manifest, progress=lambda d, t, _p: seen.append((d, t)))
    assert seen[-1] == (6, 6)
    assert report["threshold"] == DEFAULTS["FACE_THRESHOLD_ISSUANCE"] == 0.5
    # probes: obama2 (genuine vs person_01), giraffe (genuine vs person_08, no face)
    assert report["genuine_pairs"] == 2
    # obama2 against the three other templates; the giraffe makes no impostor pair
    assert report["impostor_pairs"] == 3
    assert report["far"] == 0.0 and report["false_accepts"] == []
    assert report["frr"] == 0.5
    assert report["false_rejects"] == [{
        "file": "p/person_08/b_giraffe.jpg", "identity": "person_08",
        "template": "p/person_08/a_clapton-1.jpg", "distance": None,
        "reason": "FACE_NOT_FOUND"}]
    assert report["margin"] == pytest.approx(report["impostor_min"] - report["genuine_max"],
                                             abs=1e-3)
    assert report["margin"] > 0.2


def test_cli_prints_one_json_object(small_manifest: Path) -> None:
    result = CliRunner().invoke(main, ["faces", "evaluate", str(small_manifest)])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    for key in ("far", "frr", "genuine_pairs", "impostor_pairs", "threshold", "margin",
                "false_accepts", "false_rejects"):
        assert key in report


def test_cli_refuses_a_broken_manifest(tmp_path: Path) -> None:
    bad = tmp_path / "m.json"
    bad.write_text("{not json", encoding="utf-8")
    result = CliRunner().invoke(main, ["faces", "evaluate", str(bad)])
    assert result.exit_code == 1
    assert "cannot read manifest" in result.stderr


@pytest.mark.slow
def test_evaluate_shared_manifest(faces_dir: Path) -> None:
    """The shipped matcher and threshold on the shared people/ photos (31 photos,
    12 identities, 19 probes)."""
    report = evaluate_manifest(faces_dir / "manifest.json")
    assert report["photos"] == 31 and report["identities"] == 12
    assert report["genuine_pairs"] == 19 and report["impostor_pairs"] == 19 * 11
    assert report["far"] == 0.0
    assert report["frr"] <= 0.2
    assert report["enrolment_failures"] == []
