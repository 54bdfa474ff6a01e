"""Failure statistics of certification per age band, per mode and per reason."""

from __future__ import annotations

from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from ecard.certification.models import CertificationAttempt

AGE_BANDS = ("<60", "60-69", "70-79", "80+")


def failure_stats(session: Session) -> dict[str, Any]:
    """``{"rows": [{age_band, mode, attempts, failures, failure_rate}], "reasons":
    [{age_band, mode, reason, failures}]}``, grouped in the database."""
    a = CertificationAttempt
    failed = func.sum(case((a.passed.is_(False), 1), else_=0))
    rows = [{"age_band": band, "mode": mode, "attempts": int(n), "failures": int(f or 0),
             "failure_rate": round(int(f or 0) / int(n), 4) if n else None}
            for band, mode, n, f in session.execute(
                select(a.age_band, a.mode, func.count(), failed).group_by(a.age_band, a.mode))]
    reasons = [{"age_band": band, "mode": mode, "reason": reason, "failures": int(n)}
               for band, mode, reason, n in session.execute(
                   select(a.age_band, a.mode, a.reason, func.count())
                   .where(a.passed.is_(False)).group_by(a.age_band, a.mode, a.reason))]

    def order(r: dict[str, Any]) -> tuple[int, str, str]:
        band = AGE_BANDS.index(r["age_band"]) if r["age_band"] in AGE_BANDS else 99
        return band, r["mode"], r.get("reason") or ""
    return {"rows": sorted(rows, key=order), "reasons": sorted(reasons, key=order)}


def stats_table(stats: dict[str, Any]) -> str:
    lines = [f"{'age band':<9} {'mode':<9} {'attempts':>8} {'failures':>8} {'rate':>7}"]
    for r in stats["rows"]:
        rate = "-" if r["failure_rate"] is None else f"{r['failure_rate']:.1%}"
        lines.append(f"{r['age_band']:<9} {r['mode']:<9} {r['attempts']:>8} "
                     f"{r['failures']:>8} {rate:>7}")
    if stats["reasons"]:
        lines.append("")
        lines.append(f"{'age band':<9} {'mode':<9} {'reason':<22} {'failures':>8}")
        for r in stats["reasons"]:
            lines.append(f"{r['age_band']:<9} {r['mode']:<9} {r['reason'] or '-':<22} "
                         f"{r['failures']:>8}")
    return "\n".join(lines)
