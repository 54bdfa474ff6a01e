"""Writing one validated, de-duplicated batch of the registry import: new persons with
their cards and face templates inserted set-based, changed ones updated, card status
changes through the registry service (audited), unchanged rows left alone.

Split from ``importer.py`` (which reads, validates and de-duplicates the file); runs
inside the batch's transaction on the import's own connection.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from ecard.audit.services import Actor
from ecard.clock import Clock
from ecard.faces.interfaces import MODEL_NAME, FaceEngine
from ecard.protect import DataProtector, mask_id_number, mask_name
from ecard.registry.csvformat import RegistryRow, RowRejected
from ecard.registry.models import FaceTemplate, Person, PhysicalCard
from ecard.registry.photos import Photo, PhotoFolder, face_template
from ecard.registry.services import set_card_status, transition_allowed

P: Table = Person.__table__  # type: ignore[assignment]
C: Table = PhysicalCard.__table__  # type: ignore[assignment]
F: Table = FaceTemplate.__table__  # type: ignore[assignment]

RejectFn = Callable[[int, list[str] | None, str, str], None]  # (line, fields, code, message)


@dataclass
class ImportSummary:
    read: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    photos_enrolled: int = 0
    status_changes: int = 0
    elapsed_s: float = 0.0
    rejects_path: str = ""
    reasons: Counter[str] = field(default_factory=Counter)
    # (line, reason code, masked ID number) of the first rejects, for the console
    examples: list[tuple[int, str, str]] = field(default_factory=list)

    @property
    def rows_per_s(self) -> float:
        return self.read / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def counts(self) -> dict[str, Any]:
        return {"read": self.read, "inserted": self.inserted, "updated": self.updated,
                "unchanged": self.unchanged, "rejected": self.rejected,
                "photos_enrolled": self.photos_enrolled,
                "status_changes": self.status_changes}


@dataclass(slots=True)
class Prepared:
    row: RegistryRow
    id_index: str
    row_hash: str
    photo_sha: str
    person_id: int | None = None
    template: bytes | None = None
    photo: Photo | None = None


class RegistryWriter:
    """Applies batches for one import run; counts into its ``summary`` and hands the
    rows it refuses to ``reject``."""

    def __init__(self, conn: Connection, protector: DataProtector, clock: Clock,
                 actor: Actor, faces: FaceEngine, max_image_bytes: int, photos: PhotoFolder,
                 summary: ImportSummary, reject: RejectFn) -> None:
        self.conn, self.protector, self.clock, self.actor = conn, protector, clock, actor
        self.faces, self.max_image_bytes, self.photos = faces, max_image_bytes, photos
        self.summary, self._reject = summary, reject

    def apply(self, rows: list[Prepared]) -> None:
        """Insert new persons, update changed ones, skip unchanged ones, in the
        caller's transaction."""
        if not rows:
            return
        conn = self.conn
        persons = {r.id_index: (r.id, r.row_hash) for r in conn.execute(
            select(P.c.id, P.c.id_index, P.c.row_hash)
            .where(P.c.id_index.in_([p.id_index for p in rows])))}
        card_nos = {p.row.card_no for p in rows} | {p.row.replaced_by for p in rows
                                                     if p.row.replaced_by}
        cards = {r.card_no: r for r in conn.execute(
            select(C.c.id, C.c.card_no, C.c.person_id, C.c.status, C.c.replaced_by)
            .where(C.c.card_no.in_(card_nos)))}
        new: list[Prepared] = []
        changed: list[Prepared] = []
        for p in rows:
            found = persons.get(p.id_index)
            if found is not None and found[1] == p.row_hash:
                self.summary.unchanged += 1
                continue
            p.person_id = found[0] if found else None
            problem = _card_problem(p, cards)
            if problem:
                self._reject(p.row.line, p.row.fields, *problem)
                continue
            (changed if found else new).append(p)
        self._enrol_photos(new, changed)
        new = [p for p in new if not p.photo_sha or p.template is not None]
        changed = [p for p in changed if p.photo_sha != "-"]
        if new:
            self._insert(new)
        if changed:
            self._update(changed, cards)

    def _enrol_photos(self, new: list[Prepared], changed: list[Prepared]) -> None:
        """Encode the photos of new rows and of changed rows whose photo changed; a
        row whose photo is unusable is rejected (its ``photo_sha`` becomes ``-``)."""
        current: dict[int, str] = {}
        ids = [p.person_id for p in changed if p.photo_sha and p.person_id is not None]
        if ids:
            current = {pid: sha for pid, sha in self.conn.execute(
                select(F.c.person_id, F.c.photo_sha256).where(F.c.person_id.in_(ids)))}
        for p in [*new, *changed]:
            if not p.photo_sha or (p.person_id is not None
                                   and current.get(p.person_id) == p.photo_sha):
                continue
            try:
                photo = self.photos.read(p.row.photo)
                p.template = face_template(self.faces, photo, self.max_image_bytes)
                p.photo = photo
            except RowRejected as exc:
                self._reject(p.row.line, p.row.fields, exc.code, exc.message)
                p.photo_sha = "-"

    def _person_fields(self, p: Prepared, now: Any) -> dict[str, Any]:
        enc = self.protector.encrypt_str
        return {"name_enc": enc(p.row.name, "person.name"), "name_masked": mask_name(p.row.name),
                "region": p.row.region, "row_hash": p.row_hash, "updated_at": now}

    def _card_fields(self, p: Prepared, now: Any) -> dict[str, Any]:
        enc = self.protector.encrypt_str
        r = p.row
        return {
            "region": r.region, "generation": r.generation, "bank_code": r.bank_code or None,
            "bank_account_enc": enc(r.bank_account, "card.bank_account")
            if r.bank_account else None,
            "reserved_phone_enc": enc(r.phone, "card.reserved_phone") if r.phone else None,
            "updated_at": now,
        }

    def _template_fields(self, p: Prepared, now: Any) -> dict[str, Any]:
        assert p.template is not None and p.photo is not None
        enc = self.protector.encrypt
        return {"person_id": p.person_id,
                "template_enc": enc(p.template, "face_template.template"),
                "photo_enc": enc(p.photo.data, "face_template.photo"),
                "photo_sha256": p.photo.sha256, "model": MODEL_NAME, "updated_at": now}

    def _insert(self, rows: list[Prepared]) -> None:
        now = self.clock.now()
        enc = self.protector.encrypt_str
        person_rows = []
        for p in rows:
            c = p.row.citizen
            person_rows.append({
                "id_index": p.id_index, "id_number_enc": enc(c.number, "person.id_number"),
                "id_masked": mask_id_number(c.number), "gender": c.gender,
                "birth_date": c.birth_date, "created_at": now, **self._person_fields(p, now)})
        # RETURNING without sort_by_parameter_order: SQLAlchemy then sends one
        # multi-row INSERT per 1000 rows instead of one statement per row.
        ids = dict(tuple(r) for r in self.conn.execute(
            insert(P).returning(P.c.id_index, P.c.id), person_rows))
        card_rows = []
        for p in rows:
            p.person_id = pid = ids[p.id_index]
            details = self._card_fields(p, now)
            card_rows.append({"card_no": p.row.card_no, "person_id": pid,
                              "status": p.row.status, "replaced_by": p.row.replaced_by or None,
                              **details})
            if p.row.replaced_by:
                card_rows.append({"card_no": p.row.replaced_by, "person_id": pid,
                                  "status": "active", "replaced_by": None, **details})
        self.conn.execute(insert(C), card_rows)
        templates = [self._template_fields(p, now) for p in rows if p.template is not None]
        if templates:
            self.conn.execute(insert(F), templates)
        self.summary.inserted += len(rows)
        self.summary.photos_enrolled += len(templates)

    def _update(self, rows: list[Prepared], cards: dict[str, Any]) -> None:
        conn = self.conn
        now = self.clock.now()
        conn.execute(update(P).where(P.c.id == _b("pid")),
                     [{"pid": p.person_id, **self._person_fields(p, now)} for p in rows])
        known = [p for p in rows if p.row.card_no in cards]
        if known:
            conn.execute(update(C).where(C.c.card_no == _b("cno")),
                         [{"cno": p.row.card_no, **self._card_fields(p, now)} for p in known])
        session = Session(bind=conn, autoflush=False)
        for p in rows:
            card = cards.get(p.row.card_no)
            if card is None:
                self._switch_card(session, p, now)
            elif card.status != p.row.status:
                set_card_status(session, self.clock, self.actor, p.row.card_no, p.row.status,
                                p.row.replaced_by or None)
                self.summary.status_changes += 1
        session.flush()
        templates = [self._template_fields(p, now) for p in rows if p.template is not None]
        if templates:
            have = set(conn.execute(select(F.c.person_id).where(
                F.c.person_id.in_([t["person_id"] for t in templates]))).scalars())
            fresh = [t for t in templates if t["person_id"] not in have]
            again = [{**t, "pid": t["person_id"]} for t in templates if t["person_id"] in have]
            if fresh:
                conn.execute(insert(F), fresh)
            if again:
                conn.execute(update(F).where(F.c.person_id == _b("pid")), again)
        self.summary.updated += len(rows)
        self.summary.photos_enrolled += len(templates)

    def _switch_card(self, session: Session, p: Prepared, now: Any) -> None:
        """An existing person's row names a card the registry does not know: the new
        card replaces the person's live cards (their e-cards rebind to it)."""
        live = session.scalars(select(PhysicalCard).where(
            PhysicalCard.person_id == p.person_id,
            PhysicalCard.status.in_(("active", "lost"))).order_by(PhysicalCard.id)).all()
        for old in live:
            set_card_status(session, self.clock, self.actor, old.card_no, "replaced",
                            p.row.card_no)
            self.summary.status_changes += 1
        card = session.scalars(select(PhysicalCard).where(
            PhysicalCard.card_no == p.row.card_no)).one_or_none()
        if card is None:
            assert p.person_id is not None
            card = PhysicalCard(card_no=p.row.card_no, person_id=p.person_id, status="active")
            session.add(card)
        for key, value in self._card_fields(p, now).items():
            setattr(card, key, value)
        session.flush()
        if p.row.status != "active":
            set_card_status(session, self.clock, self.actor, p.row.card_no, p.row.status,
                            p.row.replaced_by or None)
            self.summary.status_changes += 1


def _b(name: str) -> Any:
    return bindparam(name)


def _card_problem(p: Prepared, cards: dict[str, Any]) -> tuple[str, str] | None:
    """Why the row's cards cannot be applied to the registry as it is, if they cannot."""
    row, pid = p.row, p.person_id
    card = cards.get(row.card_no)
    if card is not None and card.person_id != pid:
        return "CARD_OWNED_BY_OTHER", "the card number belongs to another person"
    if card is not None and card.status != row.status \
            and not transition_allowed(card.status, row.status):
        return ("STATUS_TRANSITION_INVALID",
                f"the card is {card.status} and cannot become {row.status}")
    if card is not None and card.status == row.status == "replaced" \
            and (card.replaced_by or "") != row.replaced_by:
        return ("STATUS_TRANSITION_INVALID",
                "the card was already replaced by another card; a replacement is final")
    if row.replaced_by and not (card is not None and card.status == "replaced"):
        succ = cards.get(row.replaced_by)
        if succ is not None and (succ.person_id != pid or succ.status != "active"):
            return ("REPLACEMENT_CARD_INVALID",
                    "the replacement card belongs to another person or is not active")
    return None
