"""The face engine really loads dlib's models and encodes a face, and a broken install
fails loudly instead of ending the process with status 0."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np

from ecard.faces.engine import DlibFaceEngine, face_recognition_module
from ecard.faces.images import load_rgb
from ecard.faces.services import single_face

ROOT = Path(__file__).resolve().parents[2]


def test_face_recognition_encodes_a_real_face(faces_dir: Path) -> None:
    fr = face_recognition_module()
    assert hasattr(fr, "face_encodings")
    data = (faces_dir / "people" / "person_01" / "obama.jpg").read_bytes()
    face = single_face(DlibFaceEngine(), load_rgb(data, max_bytes=5 << 20))
    assert face.encoding.shape == (128,)
    assert face.encoding.dtype == np.float64
    assert 0.5 < float(np.linalg.norm(face.encoding)) < 2.0  # a real, non-zero descriptor
    assert face.box.height > 100


def test_missing_models_raise_instead_of_quitting(tmp_path: Path) -> None:
    """face_recognition calls quit() when face_recognition_models cannot be imported.
    A stand-in package that does exactly that is put first on the path of a fresh
    interpreter: the engine must raise FaceModelsUnavailable, and the process must not
    end quietly with status 0."""
    fake = tmp_path / "face_recognition"
    fake.mkdir()
    (fake / "__init__.py").write_text(
        'print("Please install `face_recognition_models`")\nquit()\n', encoding="utf-8")
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(tmp_path)!r})
        from ecard.faces.engine import FaceModelsUnavailable, face_recognition_module
        try:
            face_recognition_module()
        except FaceModelsUnavailable as exc:
            print("raised:", exc)
            sys.exit(3)
        print("imported")
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          cwd=ROOT, timeout=120, check=False)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "raised: face_recognition could not load face_recognition_models" in proc.stdout
