"""The medical settlement split: the rules of ``channel_adapters/hospital.py`` on
worked examples, and the sum property on every input (integer fen, nothing lost)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from channel_adapters.hospital import MedicalPolicy, Split, settle
from channel_adapters.interfaces import SettlementInvalid

BEIJING = MedicalPolicy(region="110101", ratio_bp=8500, deductible_remaining_fen=130000,
                        cap_remaining_fen=2000000)


def parts(s: Split) -> tuple[int, int, int]:
    return s.fund_fen, s.personal_account_fen, s.cash_fen


def test_a_bill_under_the_deductible_is_all_the_patients() -> None:
    s = settle(scene="02", total_fen=50000, self_funded_fen=0, class_b_self_fen=0,
               account_balance_fen=20000, policy=BEIJING)
    assert parts(s) == (0, 20000, 30000)
    assert s.deductible_paid_fen == 50000


def test_worked_example_with_every_rule() -> None:
    # 3000.00 yuan: 200.00 outside the catalogue, 100.00 class-B first share,
    # 2700.00 eligible; 1300.00 deductible left; the fund pays 85 % of 1400.00.
    s = settle(scene="02", total_fen=300000, self_funded_fen=20000, class_b_self_fen=10000,
               account_balance_fen=50000, policy=BEIJING)
    assert s.eligible_fen == 270000 and s.deductible_paid_fen == 130000
    assert s.fund_fen == 119000
    assert s.personal_account_fen == 50000
    assert s.cash_fen == 300000 - 119000 - 50000
    assert sum(parts(s)) == 300000


def test_the_fund_rounds_down_and_the_fen_stays_with_the_patient() -> None:
    policy = MedicalPolicy(region="110101", ratio_bp=3333, deductible_remaining_fen=0,
                           cap_remaining_fen=10**9)
    s = settle(scene="02", total_fen=101, self_funded_fen=0, class_b_self_fen=0,
               account_balance_fen=0, policy=policy)
    assert s.fund_fen == 33  # 101 * 0.3333 = 33.66 → 33, never 34
    assert s.cash_fen == 68
    assert sum(parts(s)) == 101


def test_the_cap_limits_the_fund() -> None:
    policy = MedicalPolicy(region="110101", ratio_bp=9000, deductible_remaining_fen=0,
                           cap_remaining_fen=5000)
    s = settle(scene="02", total_fen=100000, self_funded_fen=0, class_b_self_fen=0,
               account_balance_fen=0, policy=policy)
    assert parts(s) == (5000, 0, 95000)


def test_cross_region_uses_the_insured_regions_policy_and_cuts_an_unfiled_ratio() -> None:
    guangdong = MedicalPolicy(region="440106", ratio_bp=8000, deductible_remaining_fen=0,
                              cap_remaining_fen=10**9, unfiled_reduction_bp=2000)
    filed = settle(scene="04", total_fen=100000, self_funded_fen=0, class_b_self_fen=0,
                   account_balance_fen=0, policy=guangdong, patient_region="440106")
    unfiled = settle(scene="04", total_fen=100000, self_funded_fen=0, class_b_self_fen=0,
                     account_balance_fen=0, policy=guangdong, patient_region="440106",
                     filed=False)
    assert (filed.fund_fen, filed.ratio_bp) == (80000, 8000)
    assert (unfiled.fund_fen, unfiled.ratio_bp) == (60000, 6000)
    with pytest.raises(SettlementInvalid):  # the hospital's own region's policy: refused
        settle(scene="04", total_fen=100000, self_funded_fen=0, class_b_self_fen=0,
               account_balance_fen=0, policy=BEIJING, patient_region="440106")


@pytest.mark.parametrize("kwargs", [
    {"scene": "01"},  # a query does not settle
    {"scene": "09"},
    {"total_fen": 0},
    {"total_fen": -1},
    {"self_funded_fen": 60000, "class_b_self_fen": 50000},  # parts beyond the total
    {"account_balance_fen": -5},
    {"total_fen": 100.5},
])
def test_invalid_bills_are_refused(kwargs: dict[str, object]) -> None:
    args: dict[str, object] = {"scene": "02", "total_fen": 100000, "self_funded_fen": 0,
                               "class_b_self_fen": 0, "account_balance_fen": 0,
                               "policy": BEIJING, **kwargs}
    with pytest.raises(SettlementInvalid) as err:
        settle(**args)  # type: ignore[arg-type]
    assert err.value.code in ("MEDICAL_SETTLEMENT_INVALID", "SCENE_INVALID")
    assert err.value.status == 422


def test_invalid_policies_are_refused() -> None:
    with pytest.raises(SettlementInvalid):
        MedicalPolicy(region="110101", ratio_bp=10001, deductible_remaining_fen=0,
                      cap_remaining_fen=0)
    with pytest.raises(SettlementInvalid):
        MedicalPolicy(region="11", ratio_bp=5000, deductible_remaining_fen=0,
                      cap_remaining_fen=0)


amounts = st.integers(min_value=0, max_value=10**10)


@given(total=st.integers(min_value=1, max_value=10**10), a=amounts, b=amounts,
       balance=amounts, ratio=st.integers(min_value=0, max_value=10000), deductible=amounts,
       cap=amounts, cross=st.booleans(), filed=st.booleans())
def test_the_parts_always_sum_to_the_total(total: int, a: int, b: int, balance: int,
                                           ratio: int, deductible: int, cap: int,
                                           cross: bool, filed: bool) -> None:
    self_funded, class_b = min(a, total), min(b, total - min(a, total))
    policy = MedicalPolicy(region="110101", ratio_bp=ratio, deductible_remaining_fen=deductible,
                           cap_remaining_fen=cap)
    s = settle(scene="04" if cross else "02", total_fen=total, self_funded_fen=self_funded,
               class_b_self_fen=class_b, account_balance_fen=balance, policy=policy,
               patient_region="110101", filed=filed)
    assert s.fund_fen + s.personal_account_fen + s.cash_fen == total
    assert min(parts(s)) >= 0
    assert s.fund_fen <= min(cap, (total - self_funded - class_b) * ratio // 10000)
    assert s.personal_account_fen <= balance
