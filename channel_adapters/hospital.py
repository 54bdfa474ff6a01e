"""Hospitals and pharmacies (channel type ``medical``, acquirers): scene codes and the
settlement split of a medical bill between the insurance fund and the patient.

Scene codes (every scan and payment carries one): ``01`` query (registration, a
look-up), ``02`` payment, ``03`` other, ``04`` cross-region medical settlement
(异地就医: the patient is insured in another region). Only ``02`` and ``04`` settle.

The split (门诊/住院结算), all in integer fen, stated as the rules applied in order:

1. ``total`` = ``self_funded`` (全自费: items outside the insurance catalogue) +
   ``class_b_self`` (乙类先行自付: the patient's first share of class-B items) +
   ``eligible`` (符合政策范围). Both parts are given by the hospital's system; they
   may not exceed the total.
2. The deductible (起付线) still open this year is paid by the patient first:
   ``deductible_paid = min(eligible, deductible_remaining)``.
3. The fund (统筹基金) pays ``ratio`` of the rest, rounded *down* to the fen, and never
   more than what is left under the year's cap (封顶线):
   ``fund = min((eligible - deductible_paid) * ratio_bp // 10000, cap_remaining)``.
   Rounding down means the fund never pays a fraction it does not owe; the fen it
   does not pay stays with the patient, so nothing is lost.
4. The patient's share ``total - fund`` is paid from the personal account (个人账户)
   up to its balance, the rest in cash (现金/自付, the e-card payment):
   ``personal_account = min(total - fund, account_balance)``, ``cash = total - fund -
   personal_account``. Hence ``fund + personal_account + cash == total`` always.
5. Cross-region (scene ``04``): the policy is the one of the region where the patient
   is insured (参保地政策), not the hospital's; without a filing for treatment
   elsewhere (未备案) the ratio drops by ``unfiled_reduction_bp`` (at most to 0).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from channel_adapters.interfaces import SettlementInvalid
from ecard.tokens.attributes import check_scene, entitlement

SCENE_NAMES = {"01": "query", "02": "payment", "03": "other", "04": "cross_region_medical"}
SETTLING_SCENES = frozenset({"02", "04"})
CROSS_REGION = "04"
BP = 10_000  # basis points in one whole


@dataclass(frozen=True)
class MedicalPolicy:
    """An insurance region's rules for one patient this year (remaining amounts)."""

    region: str
    ratio_bp: int  # the fund's share above the deductible, in basis points (8500 = 85 %)
    deductible_remaining_fen: int
    cap_remaining_fen: int
    unfiled_reduction_bp: int = 1000

    def __post_init__(self) -> None:
        if not (len(self.region) == 6 and self.region.isdigit()):
            raise SettlementInvalid(details={"region": self.region})
        _check_int("ratio_bp", self.ratio_bp, high=BP)
        _check_int("deductible_remaining_fen", self.deductible_remaining_fen)
        _check_int("cap_remaining_fen", self.cap_remaining_fen)
        _check_int("unfiled_reduction_bp", self.unfiled_reduction_bp, high=BP)


@dataclass(frozen=True)
class Split:
    total_fen: int
    fund_fen: int  # 统筹基金支付
    personal_account_fen: int  # 个人账户支付
    cash_fen: int  # 现金/自付 (the e-card payment)
    eligible_fen: int
    deductible_paid_fen: int
    ratio_bp: int
    scene: str
    policy_region: str

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _check_int(name: str, value: object, *, high: int | None = None) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0 or (
            high is not None and value > high):
        raise SettlementInvalid(details={"field": name, "value": str(value)})


def settle(*, scene: str, total_fen: int, self_funded_fen: int, class_b_self_fen: int,
           account_balance_fen: int, policy: MedicalPolicy,
           patient_region: str | None = None, filed: bool = True) -> Split:
    """The split of one bill (rules 1-5 above)."""
    if scene not in SETTLING_SCENES:
        raise SettlementInvalid(details={"scene": scene, "allowed": sorted(SETTLING_SCENES)})
    for name, value in (("total_fen", total_fen), ("self_funded_fen", self_funded_fen),
                        ("class_b_self_fen", class_b_self_fen),
                        ("account_balance_fen", account_balance_fen)):
        _check_int(name, value)
    if total_fen == 0 or self_funded_fen + class_b_self_fen > total_fen:
        raise SettlementInvalid(details={"total_fen": total_fen,
                                         "self_funded_fen": self_funded_fen,
                                         "class_b_self_fen": class_b_self_fen})
    ratio = policy.ratio_bp
    if scene == CROSS_REGION:
        if patient_region is None or patient_region != policy.region:
            # rule 5: the insured region's policy, which the caller must have chosen
            raise SettlementInvalid(details={"scene": scene, "patient_region": patient_region,
                                             "policy_region": policy.region})
        if not filed:
            ratio = max(0, ratio - policy.unfiled_reduction_bp)
    eligible = total_fen - self_funded_fen - class_b_self_fen
    deductible_paid = min(eligible, policy.deductible_remaining_fen)
    fund = min((eligible - deductible_paid) * ratio // BP, policy.cap_remaining_fen)
    patient = total_fen - fund
    personal_account = min(patient, account_balance_fen)
    cash = patient - personal_account
    assert fund + personal_account + cash == total_fen
    return Split(total_fen, fund, personal_account, cash, eligible, deductible_paid, ratio,
                 scene, policy.region)


class HospitalAdapter:
    kind = "hospital"
    channel_types = frozenset({"medical"})

    def attributes(self, channel_type: str, scene: str) -> frozenset[str]:
        return entitlement(channel_type, check_scene(scene))

    def shape_notification(self, session: Session, channel_no: str, event: str,
                           payload: dict[str, Any]) -> dict[str, Any]:
        scene = payload.get("scene")
        if isinstance(scene, str) and scene in SCENE_NAMES:
            return {**payload, "scene_name": SCENE_NAMES[scene]}
        return payload
