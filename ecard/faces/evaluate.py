"""Evaluate the shipped face matcher on any face set described by a manifest.

The manifest has the format of ``shared/faces/manifest.json``: a ``files`` list whose
entries give ``path`` (relative to the manifest), ``identity``, ``kind`` and the faces
found. The photos used are the independent, single-person photos of identities:
entries with an identity, exactly one face, ``kind`` "photo" (or no kind) and no
``derived_from``. The other kinds are video frames, pictures of several people, and
copies of a people/ photograph (low resolution, partial crops, RGBA re-saves, synthetic
transforms): a copy of an enrolled photograph is not an independent sample. They are
left out and counted under ``skipped``.

Each identity's first photo by path is enrolled as its template exactly as the registry
import does (``load_rgb`` then ``single_face``); every other photo is matched against
every template. A photo of which no single usable face can be taken counts as a false
reject of its genuine pair (a failure to acquire rejects the real person too) and
makes no impostor pair.

Threshold: the platform's issuance and certification threshold,
``FACE_THRESHOLD_ISSUANCE`` (0.5). dlib documents 0.6 as the tolerance at which its
128-d model reaches 99.38 % on LFW, a benchmark of pairs drawn evenly; binding a card
or a pension to a person is 1:1 verification run hundreds of millions of times a year,
where one false accept pays the wrong person, so the platform sits stricter than the
published operating point and pays for it with retries (and a human appeal) for
genuine users. The value is a principle applied to the model, never fitted to a set.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ecard.config import DEFAULTS
from ecard.errors import EcardError
from ecard.faces.engine import DlibFaceEngine, face_distance
from ecard.faces.images import load_rgb
from ecard.faces.interfaces import Encoding, FaceEngine
from ecard.faces.services import single_face

PHOTO_KINDS = {"photo"}

Progress = Callable[[int, int, str], None]


def _face_count(entry: Mapping[str, Any]) -> int | None:
    faces = entry.get("faces")
    if isinstance(faces, list):
        return len(faces)
    count = entry.get("faces_detected_hog")
    return count if isinstance(count, int) else None


def select_photos(manifest: Mapping[str, Any]) -> tuple[dict[str, list[str]], dict[str, int]]:
    """Identity -> its photos (sorted paths), and the count of skipped entries by kind."""
    chosen: dict[str, list[str]] = {}
    skipped: dict[str, int] = {}
    for entry in manifest.get("files", []):
        kind = entry.get("kind")
        identity = entry.get("identity")
        ok = (isinstance(identity, str) and identity != ""
              and (kind is None or kind in PHOTO_KINDS)
              and _face_count(entry) in (None, 1)
              and not entry.get("derived_from"))
        if ok:
            chosen.setdefault(identity, []).append(str(entry["path"]))
        else:
            key = str(kind or "unknown")
            skipped[key] = skipped.get(key, 0) + 1
    return {k: sorted(v) for k, v in sorted(chosen.items())}, dict(sorted(skipped.items()))


@dataclass(frozen=True)
class _Probe:
    path: str
    identity: str
    encoding: Encoding | None
    failure: str | None


def _encode(base: Path, rel: str, engine: FaceEngine, max_bytes: int
            ) -> tuple[Encoding | None, str | None]:
    try:
        data = (base / rel).read_bytes()
    except OSError as exc:
        return None, f"FILE_UNREADABLE: {exc.strerror}"
    try:
        return single_face(engine, load_rgb(data, max_bytes=max_bytes)).encoding, None
    except EcardError as exc:
        return None, exc.code


def evaluate_manifest(path: Path, *, engine: FaceEngine | None = None,
                      threshold: float | None = None,
                      progress: Progress | None = None) -> dict[str, Any]:
    """The far/frr/margin report of the matcher on the manifest's photos."""
    manifest = json.loads(path.read_text(encoding="utf-8"))
    base = path.resolve().parent
    engine = engine or DlibFaceEngine()
    threshold = float(DEFAULTS["FACE_THRESHOLD_ISSUANCE"] if threshold is None else threshold)
    max_bytes = int(DEFAULTS["MAX_IMAGE_BYTES"])
    photos, skipped = select_photos(manifest)
    total = sum(len(v) for v in photos.values())
    done = 0

    def step(rel: str) -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, total, rel)

    templates: dict[str, tuple[str, Encoding]] = {}
    enrolment_failures: list[dict[str, str]] = []
    probes: list[_Probe] = []
    for identity, paths in photos.items():
        enc, failure = _encode(base, paths[0], engine, max_bytes)
        step(paths[0])
        if enc is None:
            enrolment_failures.append({"identity": identity, "file": paths[0],
                                       "reason": str(failure)})
        else:
            templates[identity] = (paths[0], enc)
        for rel in paths[1:]:
            enc, failure = _encode(base, rel, engine, max_bytes)
            step(rel)
            probes.append(_Probe(rel, identity, enc, failure))

    genuine: list[float] = []
    impostor: list[float] = []
    false_accepts: list[dict[str, Any]] = []
    false_rejects: list[dict[str, Any]] = []
    genuine_pairs = impostor_pairs = 0
    for probe in probes:
        own = templates.get(probe.identity)
        if probe.encoding is None:
            if own is not None:
                genuine_pairs += 1
                false_rejects.append({"file": probe.path, "identity": probe.identity,
                                      "template": own[0], "distance": None,
                                      "reason": probe.failure})
            continue
        for identity, (template_path, template) in templates.items():
            d = face_distance(probe.encoding, template)
            if identity == probe.identity:
                genuine_pairs += 1
                genuine.append(d)
                if d > threshold:
                    false_rejects.append({"file": probe.path, "identity": probe.identity,
                                          "template": template_path, "distance": round(d, 4),
                                          "reason": "FACE_MISMATCH"})
            else:
                impostor_pairs += 1
                impostor.append(d)
                if d <= threshold:
                    false_accepts.append({"file": probe.path, "identity": probe.identity,
                                          "accepted_as": identity, "template": template_path,
                                          "distance": round(d, 4)})

    def rate(n: int, of: int) -> float | None:
        return round(n / of, 4) if of else None

    margin = (round(min(impostor) - max(genuine), 4) if genuine and impostor else None)
    return {
        "far": rate(len(false_accepts), impostor_pairs),
        "frr": rate(len(false_rejects), genuine_pairs),
        "genuine_pairs": genuine_pairs,
        "impostor_pairs": impostor_pairs,
        "threshold": threshold,
        "margin": margin,
        "genuine_max": round(max(genuine), 4) if genuine else None,
        "impostor_min": round(min(impostor), 4) if impostor else None,
        "false_accepts": sorted(false_accepts, key=lambda r: (r["file"], r["accepted_as"])),
        "false_rejects": sorted(false_rejects, key=lambda r: r["file"]),
        "identities": len(photos),
        "photos": total,
        "templates": {k: v[0] for k, v in templates.items()},
        "enrolment_failures": enrolment_failures,
        "skipped": skipped,
    }
