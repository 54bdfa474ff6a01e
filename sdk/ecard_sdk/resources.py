"""The resource groups of :class:`~ecard_sdk.EcardClient` (``client.cards`` ...).

Each method is one platform route (README "API overview"), sends only the fields
given (``None`` is left out, so the platform's defaults apply) and returns the
answer as an :class:`~ecard_sdk.EcardObject`. Every method takes ``options=``
(:class:`~ecard_sdk.RequestOptions`); POSTs also take ``idempotency_key=`` (the
default, a fresh key per call, is reused by the SDK's own retries).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ecard_sdk._http import RequestOptions
from ecard_sdk._object import EcardObject

if TYPE_CHECKING:
    from ecard_sdk.client import EcardClient

_SEGMENT = re.compile(r"[A-Za-z0-9._~:-]{1,128}")


def _seg(name: str, value: str) -> str:
    """A path parameter, refused unless it is plain URL-safe text (a sign number with
    ``/`` or ``..`` in it would reach another route)."""
    value = str(value)
    if not _SEGMENT.fullmatch(value) or value in (".", ".."):
        raise ValueError(f"{name} must be 1-128 letters, digits or ._~:- characters")
    return value


def _fields(**values: Any) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def _opts(options: RequestOptions | None, idempotency_key: str | None) -> RequestOptions | None:
    if idempotency_key is None:
        return options
    merged: RequestOptions = {**(options or {}), "idempotency_key": idempotency_key}
    return merged


def _b64(image: bytes | str) -> str:
    return image if isinstance(image, str) else base64.b64encode(image).decode("ascii")


class _Resource:
    def __init__(self, client: EcardClient) -> None:
        self._client = client

    def _post(self, path: str, body: dict[str, Any], options: RequestOptions | None,
              idempotency_key: str | None) -> EcardObject:
        return self._client.request("POST", f"/api/v1{path}", json=body,
                                    options=_opts(options, idempotency_key))

    def _put(self, path: str, body: dict[str, Any],
             options: RequestOptions | None) -> EcardObject:
        return self._client.request("PUT", f"/api/v1{path}", json=body, options=options)

    def _get(self, path: str, options: RequestOptions | None,
             query: dict[str, Any] | None = None) -> EcardObject:
        return self._client.request("GET", f"/api/v1{path}", query=query, options=options)


class Cards(_Resource):
    """E-cards held in this channel (``/cards``)."""

    def issue(self, *, name: str, id_number: str, card_no: str, pin: str | None = None,
              certification_session_id: str | None = None,
              idempotency_key: str | None = None,
              options: RequestOptions | None = None) -> EcardObject:
        """Claim the holder's e-card in this channel. A first e-card needs a passed
        face check of purpose ``"issuance"`` (``certification_session_id``, from
        :meth:`Certification.start`/``submit``) and sets ``pin``; a holder with an
        e-card elsewhere relinks with the existing ``pin`` only. ``event`` in the
        answer: ``issued``, ``relinked`` or ``already_issued``.

        >>> card = client.cards.issue(name="张三", id_number="11010119550307123X",
        ...                           card_no="A12345678", pin="482913",
        ...                           certification_session_id=session.session_id)  # doctest: +SKIP
        >>> card.sign_no, card.event                                         # doctest: +SKIP
        ('110101...', 'issued')
        """
        return self._post("/cards", _fields(
            name=name, id_number=id_number, card_no=card_no, pin=pin,
            certification_session_id=certification_session_id), options, idempotency_key)

    def retrieve(self, sign_no: str, *, options: RequestOptions | None = None) -> EcardObject:
        """The e-card as this channel sees it (masked name and ID, level, status).

        >>> client.cards.retrieve(sign_no).status            # doctest: +SKIP
        'active'
        """
        return self._get(f"/cards/{_seg('sign_no', sign_no)}", options)

    def unlink(self, sign_no: str, *, pin: str, idempotency_key: str | None = None,
               options: RequestOptions | None = None) -> EcardObject:
        """Unlink the e-card in this channel only (the holder's PIN); the other
        channels keep theirs.

        >>> client.cards.unlink(sign_no, pin="482913").status   # doctest: +SKIP
        'unlinked'
        """
        return self._post(f"/cards/{_seg('sign_no', sign_no)}/unlink", {"pin": pin}, options,
                          idempotency_key)

    def list_channels(self, sign_no: str, *,
                      options: RequestOptions | None = None) -> EcardObject:
        """Which channels hold the holder's e-card (``.channels``, ``this_channel`` marks
        yours).

        >>> [c.name for c in client.cards.list_channels(sign_no).channels]   # doctest: +SKIP
        ['示例银行App', '省人社App']
        """
        return self._get(f"/cards/{_seg('sign_no', sign_no)}/channels", options)

    def credential(self, sign_no: str, *, options: RequestOptions | None = None) -> EcardObject:
        """A signed credential (JWS, ES256, ``kid``) verifiable offline with the JWKS.

        >>> client.cards.credential(sign_no).credential.count(".")   # doctest: +SKIP
        2
        """
        return self._get(f"/cards/{_seg('sign_no', sign_no)}/credential", options)

    def verify_pin(self, sign_no: str, pin: str, *, idempotency_key: str | None = None,
                   options: RequestOptions | None = None) -> EcardObject:
        """Check the holder's PIN; a wrong one raises
        :class:`~ecard_sdk.errors.InvalidRequestError` with code ``PIN_WRONG``
        (``PIN_LOCKED`` after six).

        >>> client.cards.verify_pin(sign_no, "482913").verified   # doctest: +SKIP
        True
        """
        return self._post(f"/cards/{_seg('sign_no', sign_no)}/pin/verify", {"pin": pin},
                          options, idempotency_key)

    def reset_pin(self, sign_no: str, *, new_pin: str, face_image: bytes | str | None = None,
                  certification_session_id: str | None = None,
                  idempotency_key: str | None = None,
                  options: RequestOptions | None = None) -> EcardObject:
        """Set a new PIN after a face check (which also unlocks a locked PIN):
        ``face_image`` (JPEG/PNG bytes) or a passed ``certification_session_id``,
        whichever the platform asks for.

        >>> client.cards.reset_pin(sign_no, new_pin="730518",
        ...                        face_image=open("selfie.jpg", "rb").read())  # doctest: +SKIP
        """
        return self._post(f"/cards/{_seg('sign_no', sign_no)}/pin/reset", _fields(
            new_pin=new_pin, face_image=None if face_image is None else _b64(face_image),
            certification_session_id=certification_session_id), options, idempotency_key)

    def disclosures(self, sign_no: str, *, limit: int | None = None, offset: int | None = None,
                    options: RequestOptions | None = None) -> EcardObject:
        """Which channel received which of the holder's attributes, in which scene,
        when (newest first).

        >>> for d in client.cards.disclosures(sign_no, limit=10).disclosures:   # doctest: +SKIP
        ...     print(d.channel_name, d.scene, d.attributes)
        """
        return self._get(f"/cards/{_seg('sign_no', sign_no)}/disclosures", options,
                         _fields(limit=limit, offset=offset))


class IdentityCodes(_Resource):
    """Identity codes (亮码): shown by the holder, scanned by a counter."""

    def create(self, sign_no: str, scenes: Sequence[str] | None = None, *,
               idempotency_key: str | None = None,
               options: RequestOptions | None = None) -> EcardObject:
        """A fresh code (60 s) for the holder to show: ``code`` (the ``EC1.…`` text),
        ``expires_at``, ``png_base64`` and ``svg`` of the QR code. ``scenes`` narrows
        where it may be used (default all: ``01`` query, ``02`` payment, ``03`` other,
        ``04`` cross-region medical).

        >>> shown = client.identity_codes.create(sign_no, scenes=["01"])   # doctest: +SKIP
        >>> shown.code[:4]                                                # doctest: +SKIP
        'EC1.'
        """
        return self._post(f"/cards/{_seg('sign_no', sign_no)}/identity-code",
                          _fields(scenes=None if scenes is None else list(scenes)),
                          options, idempotency_key)

    def verify(self, code: str, scene: str, attributes: Iterable[str] | None = None, *,
               idempotency_key: str | None = None,
               options: RequestOptions | None = None) -> EcardObject:
        """Verify a scanned code online and redeem it (once); the answer releases what
        this channel may receive in ``scene`` (or the subset ``attributes`` names).
        Refusals: ``CODE_EXPIRED``, ``CODE_ALREADY_REDEEMED``, ``CODE_SCENE_MISMATCH``,
        ``CODE_SUSPENDED`` ... (see the errors table).

        >>> seen = client.identity_codes.verify(scanned, "01")   # doctest: +SKIP
        >>> seen.attributes.name_masked                         # doctest: +SKIP
        '*三'
        """
        return self._post("/identity-codes/verify", _fields(
            code=code, scene=scene, attributes=None if attributes is None else list(attributes)),
            options, idempotency_key)


class Payments(_Resource):
    """Level 2 (SMS, device enrolment) and payments by payment code (付款码)."""

    def request_sms(self, sign_no: str, *, idempotency_key: str | None = None,
                    options: RequestOptions | None = None) -> EcardObject:
        """Send a 6-digit code to the bank-reserved phone of the holder's card (one a
        minute: ``SMS_RESEND_TOO_SOON`` otherwise).

        >>> client.payments.request_sms(sign_no).phone_masked   # doctest: +SKIP
        '138****8000'
        """
        return self._post(f"/cards/{_seg('sign_no', sign_no)}/payment/sms", {}, options,
                          idempotency_key)

    def enable(self, sign_no: str, *, sms_code: str, device_id: str,
               idempotency_key: str | None = None,
               options: RequestOptions | None = None) -> EcardObject:
        """Confirm the SMS code: the e-card becomes level 2 and ``device_id`` is
        enrolled. The answer carries ``device_secret`` and ``device_slot`` **once**:
        hand them to the device (:meth:`~ecard_sdk.PaymentCodeGenerator.from_enrolment`).
        The platform does not store this answer for ``Idempotency-Key`` replays (it
        would keep the secret): if it is lost, enrol again (a new SMS code), which
        retires the lost secret.

        >>> enrolment = client.payments.enable(sign_no, sms_code="123456",
        ...                                    device_id="phone-1")        # doctest: +SKIP
        >>> generator = PaymentCodeGenerator.from_enrolment(enrolment)     # doctest: +SKIP
        """
        return self._post(f"/cards/{_seg('sign_no', sign_no)}/payment/enable",
                          {"sms_code": sms_code, "device_id": device_id}, options,
                          idempotency_key)

    def create(self, *, code: str, amount_fen: int, order_id: str, scene: str = "02",
               currency: str = "CNY", medical: dict[str, Any] | None = None,
               idempotency_key: str | None = None,
               options: RequestOptions | None = None) -> EcardObject:
        """A merchant (acquirer channel) redeems a scanned payment code. Amounts up to
        the no-PIN limit are ``captured`` at once; above it the payment is
        ``pending_pin`` until the holder confirms. Idempotent on ``order_id``.

        A hospital (a ``medical`` channel) settles a bill with the insurance fund by
        sending ``medical={"insured_region", "self_funded_fen", "class_b_self_fen",
        "filed", "personal_account_balance_fen"}``; the answer's ``.medical`` holds the
        split and the holder pays only the patient's share.

        >>> paid = client.payments.create(code="81…", amount_fen=1250,
        ...                               order_id="HIS-20260101-0001")   # doctest: +SKIP
        >>> paid.status                                                  # doctest: +SKIP
        'captured'
        """
        body: dict[str, Any] = {"code": code, "amount_fen": amount_fen, "order_id": order_id,
                                "scene": scene, "currency": currency}
        if medical is not None:
            body["medical"] = dict(medical)
        return self._post("/payments", body, options, idempotency_key)

    def retrieve(self, payment_id: str, *, options: RequestOptions | None = None) -> EcardObject:
        """One payment (the merchant's, or one of the holder's in their channel).

        >>> client.payments.retrieve(paid.payment_id).refunded_fen   # doctest: +SKIP
        0
        """
        return self._get(f"/payments/{_seg('payment_id', payment_id)}", options)

    def list_pending(self, sign_no: str, *, options: RequestOptions | None = None) -> EcardObject:
        """The holder's payments waiting for the PIN (``.payments``).

        >>> pending = client.payments.list_pending(sign_no).payments   # doctest: +SKIP
        >>> [p.amount_fen for p in pending]                           # doctest: +SKIP
        [50000]
        """
        return self._get(f"/cards/{_seg('sign_no', sign_no)}/payments/pending", options)

    def confirm(self, sign_no: str, payment_id: str, *, pin: str,
                idempotency_key: str | None = None,
                options: RequestOptions | None = None) -> EcardObject:
        """The holder confirms a pending payment with the PIN (within 5 minutes).

        >>> done = client.payments.confirm(sign_no, pending[0].payment_id,
        ...                                pin="482913")          # doctest: +SKIP
        >>> done.status                                           # doctest: +SKIP
        'captured'
        """
        return self._post(f"/cards/{_seg('sign_no', sign_no)}/payments/"
                          f"{_seg('payment_id', payment_id)}/confirm", {"pin": pin}, options,
                          idempotency_key)


class Refunds(_Resource):
    """Refunds of captured payments (the merchant's)."""

    def create(self, payment_id: str, *, amount_fen: int, refund_id: str,
               idempotency_key: str | None = None,
               options: RequestOptions | None = None) -> EcardObject:
        """Refund part or all of a captured payment; idempotent on ``refund_id``.

        >>> client.refunds.create(paid.payment_id, amount_fen=250,
        ...                       refund_id="R-0001").payment.status   # doctest: +SKIP
        'partially_refunded'
        """
        return self._post(f"/payments/{_seg('payment_id', payment_id)}/refunds",
                          {"amount_fen": amount_fen, "refund_id": refund_id}, options,
                          idempotency_key)


class MerchantOrders(_Resource):
    """Merchant-presented codes (主扫): the counter shows, the holder's app pays."""

    def create(self, *, order_id: str, amount_fen: int, scene: str = "02",
               currency: str = "CNY", idempotency_key: str | None = None,
               options: RequestOptions | None = None) -> EcardObject:
        """The merchant's order code (``order_token``, QR as ``qr_png``), 5 minutes.

        >>> order = client.merchant_orders.create(order_id="POS-1",
        ...                                       amount_fen=800)   # doctest: +SKIP
        """
        return self._post("/merchant-orders", {"order_id": order_id, "amount_fen": amount_fen,
                                               "scene": scene, "currency": currency},
                          options, idempotency_key)

    def lookup(self, sign_no: str, order_token: str, *, idempotency_key: str | None = None,
               options: RequestOptions | None = None) -> EcardObject:
        """The holder's channel reads a scanned order code (merchant, amount) to show.

        >>> client.merchant_orders.lookup(sign_no, scanned).amount_fen   # doctest: +SKIP
        800
        """
        return self._post(f"/cards/{_seg('sign_no', sign_no)}/merchant-orders/lookup",
                          {"order_token": order_token}, options, idempotency_key)

    def pay(self, sign_no: str, order_token: str, *, pin: str,
            idempotency_key: str | None = None,
            options: RequestOptions | None = None) -> EcardObject:
        """The holder pays the order with the PIN.

        >>> client.merchant_orders.pay(sign_no, scanned, pin="482913").status   # doctest: +SKIP
        'captured'
        """
        return self._post(f"/cards/{_seg('sign_no', sign_no)}/merchant-orders/pay",
                          {"order_token": order_token, "pin": pin}, options, idempotency_key)


class Certification(_Resource):
    """Face-liveness sessions: entitlement certification, or before a first e-card."""

    def start(self, sign_no: str | None = None, *, mode: str = "standard",
              purpose: str = "entitlement", name: str | None = None,
              id_number: str | None = None, card_no: str | None = None,
              idempotency_key: str | None = None,
              options: RequestOptions | None = None) -> EcardObject:
        """A challenge: ``session_id``, ``actions``, ``prompts`` (text and speech),
        ``deadline``. Mode ``"elder"``: one action, slow prompts, 300 s. Purpose
        ``"issuance"`` (before a first e-card) takes ``name``, ``id_number`` and
        ``card_no`` instead of ``sign_no``.

        >>> session = client.certification.start(sign_no, mode="elder")   # doctest: +SKIP
        >>> [step.speak for step in session.prompts.steps]               # doctest: +SKIP
        ['请慢慢张嘴']
        """
        return self._post("/certification/sessions", _fields(
            sign_no=sign_no, mode=mode, purpose=purpose, name=name, id_number=id_number,
            card_no=card_no), options, idempotency_key)

    def submit(self, session_id: str, frames: Iterable[tuple[bytes, datetime]], *,
               mirrored: bool = False, idempotency_key: str | None = None,
               options: RequestOptions | None = None) -> EcardObject:
        """Send the captured frames (JPEG/PNG bytes with their timezone-aware capture
        time) once; the decision: ``passed``, ``reason`` (``message_zh``/``_en``),
        ``scores``, ``next_step`` after a failure, ``entitlement`` after a pass.

        >>> decision = client.certification.submit(session.session_id,
        ...     [(jpeg, datetime.now(UTC)) for jpeg in frames])   # doctest: +SKIP
        >>> decision.passed                                      # doctest: +SKIP
        True
        """
        uploads = []
        for image, captured_at in frames:
            if captured_at.tzinfo is None:
                raise ValueError("captured_at must be timezone-aware (e.g. datetime.now(UTC))")
            uploads.append({"image": _b64(image), "captured_at": captured_at.isoformat()})
        return self._post(f"/certification/sessions/{_seg('session_id', session_id)}/frames",
                          {"frames": uploads, "mirrored": mirrored}, options, idempotency_key)
