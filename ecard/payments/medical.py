"""Medical bills settled through the platform: the split between the insurance fund
and the patient, its ledger legs, and how refunds reverse it.

A medical acquirer (channel type ``medical``) sends ``POST /payments`` with a
``medical`` block: the totals its hospital system (HIS) computed by catalogue class
(``self_funded_fen`` outside the catalogue, ``class_b_self_fen`` the patient's first
share of class-B items), the patient's ``insured_region``, whether a stay elsewhere
was ``filed`` (备案, scene ``04``) and the personal-account balance the insurer
reported (``personal_account_balance_fen``). The platform picks the insured region's
policy (``MEDICAL_POLICIES``: ratio, deductible, cap, unfiled reduction, by the
longest matching region prefix), works out what is left of this year's deductible
and cap from its own settlements of that person and region (calendar year in China
Standard Time; a failed payment counts for nothing, a fully refunded one gives its
deductible back, refunded fund money gives room under the cap back), and computes the
split with :func:`channel_adapters.hospital.settle`.

Ledger: the merchant's settlement account is credited the whole bill; the holder's
account is debited the patient's share (personal account + cash), and the region's
insurance-fund clearing account (an ``external`` account owned by ``medfund:<region>``:
its negative balance is what that region's fund owes, settled outside the platform
like the bank clearing account) the fund's share. One posting, entries sum to zero.

Refunds (rule): for the cumulative refunded amount ``A`` of a bill of total ``T``,
the fund has been refunded ``floor(fund * A / T)`` and the patient the rest; the
patient's part divides into personal account ``floor(personal * a / (personal +
cash))`` of the patient's cumulative ``a``, the cash the rest. One refund's parts are
the differences of these cumulative figures before and after it. Each cumulative
figure only grows with ``A`` and never exceeds its part (rounding down is never over
the part; the remainder is bounded the same way), so no part is ever refunded beyond
what it paid, and a full refund returns exactly every part.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from channel_adapters.hospital import MedicalPolicy, Split, settle
from ecard.payments import ledger
from ecard.payments.interfaces import PaymentError
from ecard.payments.models import Account, MedicalSettlement, Payment, Refund

CST = timezone(timedelta(hours=8), "CST")
MEDICAL_TYPE = "medical"
FUND_OWNER_PREFIX = "medfund:"
NOT_COUNTED = ("failed",)  # payments whose settlement uses no deductible or cap


@dataclass(frozen=True)
class PolicyTerms:
    """A region's yearly policy: the fund's ratio, the deductible and the cap."""

    ratio_bp: int
    deductible_fen: int
    cap_fen: int
    unfiled_reduction_bp: int = 1000


@dataclass(frozen=True)
class MedicalBill:
    """What the hospital sends in the ``medical`` block of a payment."""

    insured_region: str
    self_funded_fen: int = 0
    class_b_self_fen: int = 0
    filed: bool = True
    personal_account_balance_fen: int = 0


@dataclass(frozen=True)
class RefundParts:
    fund_fen: int
    personal_account_fen: int
    cash_fen: int

    @property
    def holder_fen(self) -> int:
        return self.personal_account_fen + self.cash_fen


def parse_policies(text: str | Mapping[str, PolicyTerms] | None) -> dict[str, PolicyTerms]:
    """``"44=8500:50000:30000000:1000,110101=9000:130000:50000000"`` (region prefix =
    ratio_bp:deductible_fen:cap_fen[:unfiled_reduction_bp]) -> {prefix: terms}."""
    if not text:
        return {}
    if isinstance(text, Mapping):
        return dict(text)
    out: dict[str, PolicyTerms] = {}
    for part in text.split(","):
        if not part.strip():
            continue
        prefix, _, terms = part.partition("=")
        prefix = prefix.strip()
        numbers = [t.strip() for t in terms.split(":")]
        if not (prefix.isdigit() and 1 <= len(prefix) <= 6 and len(numbers) in (3, 4)
                and all(n.isdigit() for n in numbers)):
            raise ValueError(f"bad medical policy {part!r}: expected REGION_PREFIX="
                             "RATIO_BP:DEDUCTIBLE_FEN:CAP_FEN[:UNFILED_REDUCTION_BP]")
        terms_ = PolicyTerms(*(int(n) for n in numbers))
        if terms_.ratio_bp > 10_000 or terms_.unfiled_reduction_bp > 10_000:
            raise ValueError(f"bad medical policy {part!r}: basis points above 10000")
        out[prefix] = terms_
    return out


def terms_for(policies: Mapping[str, PolicyTerms], region: str) -> PolicyTerms:
    for length in range(len(region), 0, -1):
        found = policies.get(region[:length])
        if found is not None:
            return found
    raise PaymentError("MEDICAL_POLICY_UNKNOWN", details={"insured_region": region})


def policy_year(now: datetime) -> int:
    return now.astimezone(CST).year


def year_to_date(session: Session, person_id: int, region: str, year: int) -> tuple[int, int]:
    """(deductible paid, fund paid net of fund refunds) this year, by the platform's
    own settlements of this person insured in ``region``."""
    counted = (MedicalSettlement.person_id == person_id,
               MedicalSettlement.insured_region == region,
               MedicalSettlement.policy_year == year, Payment.status.not_in(NOT_COUNTED))
    row = session.execute(
        select(func.coalesce(func.sum(MedicalSettlement.fund_fen
                                      - MedicalSettlement.fund_refunded_fen), 0))
        .join(Payment, Payment.id == MedicalSettlement.payment_id).where(*counted)).one()
    deductible = session.scalar(
        select(func.coalesce(func.sum(MedicalSettlement.deductible_paid_fen), 0))
        .join(Payment, Payment.id == MedicalSettlement.payment_id)
        .where(*counted, Payment.status != "refunded"))
    return int(deductible or 0), int(row[0] or 0)


def compute(session: Session, policies: Mapping[str, PolicyTerms], *, person_id: int,
            bill: MedicalBill, scene: str, amount_fen: int, now: datetime) -> Split:
    """The split of this bill for this person now. Locks the holder's ledger account
    first, so two bills of one person are split one after the other (the second sees
    the deductible and cap the first used)."""
    session.execute(select(Account.id).where(
        Account.kind == "holder", Account.owner == str(person_id)).with_for_update())
    region = bill.insured_region
    terms = terms_for(policies, region)
    deductible_used, fund_used = year_to_date(session, person_id, region, policy_year(now))
    policy = MedicalPolicy(
        region=region, ratio_bp=terms.ratio_bp,
        deductible_remaining_fen=max(0, terms.deductible_fen - deductible_used),
        cap_remaining_fen=max(0, terms.cap_fen - fund_used),
        unfiled_reduction_bp=terms.unfiled_reduction_bp)
    return settle(scene=scene, total_fen=amount_fen, self_funded_fen=bill.self_funded_fen,
                  class_b_self_fen=bill.class_b_self_fen,
                  account_balance_fen=bill.personal_account_balance_fen, policy=policy,
                  patient_region=region, filed=bill.filed)


def store(session: Session, payment_id: str, person_id: int, bill: MedicalBill,
          split: Split, now: datetime) -> None:
    session.add(MedicalSettlement(
        payment_id=payment_id, person_id=person_id, insured_region=bill.insured_region,
        policy_year=policy_year(now), scene=split.scene, filed=bill.filed,
        self_funded_fen=bill.self_funded_fen, class_b_self_fen=bill.class_b_self_fen,
        personal_account_balance_fen=bill.personal_account_balance_fen,
        total_fen=split.total_fen, eligible_fen=split.eligible_fen,
        deductible_paid_fen=split.deductible_paid_fen, ratio_bp=split.ratio_bp,
        fund_fen=split.fund_fen, personal_account_fen=split.personal_account_fen,
        cash_fen=split.cash_fen, fund_refunded_fen=0, personal_account_refunded_fen=0,
        cash_refunded_fen=0, created_at=now))
    session.flush()


def settlement_of(session: Session, payment_id: str) -> MedicalSettlement | None:
    return session.scalars(select(MedicalSettlement).where(
        MedicalSettlement.payment_id == payment_id)
        .execution_options(populate_existing=True)).one_or_none()


def same_bill(row: MedicalSettlement | None, bill: MedicalBill | None) -> bool:
    """Whether a retried order sends the bill that was settled (or, both, none)."""
    if row is None or bill is None:
        return row is None and bill is None
    return (row.insured_region, row.self_funded_fen, row.class_b_self_fen, row.filed,
            row.personal_account_balance_fen) == (
        bill.insured_region, bill.self_funded_fen, bill.class_b_self_fen, bill.filed,
        bill.personal_account_balance_fen)


def holder_share(split: Split) -> int:
    return split.personal_account_fen + split.cash_fen


def fund_account(session: Session, region: str, now: datetime) -> int:
    return ledger.account_id(session, "external", FUND_OWNER_PREFIX + region, now)


def capture_legs(session: Session, row: MedicalSettlement, holder: int, merchant: int,
                 now: datetime) -> list[ledger.Leg]:
    legs = [ledger.Leg(merchant, row.total_fen),
            ledger.Leg(holder, -(row.personal_account_fen + row.cash_fen)),
            ledger.Leg(fund_account(session, row.insured_region, now), -row.fund_fen)]
    return [leg for leg in legs if leg.amount_fen != 0]


def cumulative_parts(row: MedicalSettlement, refunded_fen: int) -> RefundParts:
    """How much of each part the cumulative refund ``refunded_fen`` returns (the rule
    in the module docstring)."""
    fund = row.fund_fen * refunded_fen // row.total_fen
    patient = refunded_fen - fund
    patient_total = row.personal_account_fen + row.cash_fen
    personal = (row.personal_account_fen * patient // patient_total) if patient_total else 0
    return RefundParts(fund, personal, patient - personal)


def refund(session: Session, row: MedicalSettlement, before_fen: int,
           after_fen: int) -> RefundParts:
    """Record one refund taking the bill's cumulative refund from ``before_fen`` to
    ``after_fen``; returns its parts. The conditional UPDATE (and the CHECKs) refuse
    to refund a part beyond what it paid."""
    old, new = cumulative_parts(row, before_fen), cumulative_parts(row, after_fen)
    parts = RefundParts(new.fund_fen - old.fund_fen,
                        new.personal_account_fen - old.personal_account_fen,
                        new.cash_fen - old.cash_fen)
    done = session.execute(
        update(MedicalSettlement).where(
            MedicalSettlement.payment_id == row.payment_id,
            MedicalSettlement.fund_refunded_fen == old.fund_fen,
            MedicalSettlement.personal_account_refunded_fen == old.personal_account_fen,
            MedicalSettlement.cash_refunded_fen == old.cash_fen)
        .values(fund_refunded_fen=new.fund_fen,
                personal_account_refunded_fen=new.personal_account_fen,
                cash_refunded_fen=new.cash_fen)
        .execution_options(synchronize_session=False))
    if getattr(done, "rowcount", 0) != 1:  # the payments row lock makes this unreachable
        raise PaymentError("ORDER_IN_PROGRESS")
    return parts


def refund_legs(session: Session, row: MedicalSettlement, parts: RefundParts, holder: int,
                merchant: int, now: datetime) -> list[ledger.Leg]:
    legs = [ledger.Leg(merchant, -(parts.fund_fen + parts.holder_fen)),
            ledger.Leg(holder, parts.holder_fen),
            ledger.Leg(fund_account(session, row.insured_region, now), parts.fund_fen)]
    return [leg for leg in legs if leg.amount_fen != 0]


def view(row: MedicalSettlement | None) -> dict[str, Any] | None:
    """The split as the API, the notifications and the statement show it."""
    if row is None:
        return None
    return {
        "insured_region": row.insured_region, "scene": row.scene, "filed": row.filed,
        "policy_year": row.policy_year, "total_fen": row.total_fen,
        "self_funded_fen": row.self_funded_fen, "class_b_self_fen": row.class_b_self_fen,
        "eligible_fen": row.eligible_fen, "deductible_paid_fen": row.deductible_paid_fen,
        "ratio_bp": row.ratio_bp, "fund_fen": row.fund_fen,
        "personal_account_fen": row.personal_account_fen, "cash_fen": row.cash_fen,
        "holder_fen": row.personal_account_fen + row.cash_fen,
        "fund_refunded_fen": row.fund_refunded_fen,
        "personal_account_refunded_fen": row.personal_account_refunded_fen,
        "cash_refunded_fen": row.cash_refunded_fen}


def parts_dict(parts: RefundParts) -> dict[str, int]:
    return asdict(parts)


def refund_columns(parts: RefundParts | None) -> dict[str, int | None]:
    """The ``refunds`` row's part columns (null for a payment that is not a bill)."""
    if parts is None:
        return {"fund_fen": None, "personal_account_fen": None, "cash_fen": None}
    return parts_dict(parts)  # type: ignore[return-value]


def refund_view(row: Refund) -> dict[str, int] | None:
    if row.fund_fen is None or row.personal_account_fen is None or row.cash_fen is None:
        return None
    return {"fund_fen": row.fund_fen, "personal_account_fen": row.personal_account_fen,
            "cash_fen": row.cash_fen}
