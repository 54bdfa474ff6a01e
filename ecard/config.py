"""Configuration: defaults, then environment variables, then a test mapping.

Every setting is read from the environment through one mapping (``ENV_SETTINGS``)
so that an operator can see in one place what can be set, and nothing else in the
code reads ``os.environ`` for configuration.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

DEFAULT_INSTANCE_DIR = Path("instance")


def _bool(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _float(value: str) -> float:
    return float(value)


def _int(value: str) -> int:
    return int(value)


def _str(value: str) -> str:
    return value


# environment variable -> (config key, parser)
ENV_SETTINGS: Mapping[str, tuple[str, Callable[[str], Any]]] = {
    "ECARD_DATABASE_URL": ("DATABASE_URL", _str),
    "ECARD_INSTANCE_DIR": ("INSTANCE_DIR", _str),
    "ECARD_MASTER_KEY": ("MASTER_KEY", _str),
    "ECARD_REDIS_URL": ("REDIS_URL", _str),
    "ECARD_RATELIMIT": ("RATELIMIT_DEFAULT", _str),
    "ECARD_FACE_THRESHOLD_CERTIFICATION": ("FACE_THRESHOLD_CERTIFICATION", _float),
    "ECARD_CERTIFICATION_MAX_FRAMES": ("CERTIFICATION_MAX_FRAMES", _int),
    "ECARD_CERTIFICATION_MAX_FRAME_BYTES": ("CERTIFICATION_MAX_FRAME_BYTES", _int),
    "ECARD_CERTIFICATION_UTC_OFFSET_MIN": ("CERTIFICATION_UTC_OFFSET_MIN", _int),
    "ECARD_CERTIFICATION_REGION_PERIODS": ("CERTIFICATION_REGION_PERIODS", _str),
    "ECARD_CERTIFICATION_APPEAL_SPEND_WINDOW_S": ("CERTIFICATION_APPEAL_SPEND_WINDOW_S", _int),
    "ECARD_TOKEN_MAX_AGE_S": ("CHANNEL_TOKEN_MAX_AGE_S", _int),
    "ECARD_CLOCK_SKEW_S": ("CLOCK_SKEW_S", _int),
    "ECARD_CREDENTIAL_TTL_S": ("CREDENTIAL_TTL_S", _int),
    "ECARD_MAX_IMAGE_BYTES": ("MAX_IMAGE_BYTES", _int),
    "ECARD_LOG_JSON": ("LOG_JSON", _bool),
    "ECARD_PUBLIC_URL": ("PUBLIC_URL", _str),
    "ECARD_PAYMENT_NO_PIN_LIMIT_FEN": ("PAYMENT_NO_PIN_LIMIT_FEN", _int),
    "ECARD_PAYMENT_DEMO_FUNDS_FEN": ("PAYMENT_DEMO_FUNDS_FEN", _int),
    "ECARD_CALLBACK_MAX_ATTEMPTS": ("CALLBACK_MAX_ATTEMPTS", _int),
    "ECARD_CALLBACK_CONNECT_TIMEOUT_S": ("CALLBACK_CONNECT_TIMEOUT_S", _float),
    "ECARD_CALLBACK_READ_TIMEOUT_S": ("CALLBACK_READ_TIMEOUT_S", _float),
    "ECARD_CALLBACK_BATCH_SIZE": ("CALLBACK_BATCH_SIZE", _int),
    "ECARD_CALLBACK_CONCURRENCY": ("CALLBACK_CONCURRENCY", _int),
    "ECARD_CALLBACK_LEASE_S": ("CALLBACK_LEASE_S", _float),
    "ECARD_BANK_SMS_URL": ("BANK_SMS_URL", _str),
    "ECARD_BANK_SMS_CODE": ("BANK_SMS_CODE", _str),
    "ECARD_BANK_SMS_URLS": ("BANK_SMS_URLS", _str),
    "ECARD_H5_SESSION_TTL_S": ("H5_SESSION_TTL_S", _int),
    "ECARD_MEDICAL_POLICIES": ("MEDICAL_POLICIES", _str),
}

DEFAULTS: Mapping[str, Any] = {
    "DATABASE_URL": None,  # derived from INSTANCE_DIR when unset: SQLite file
    "INSTANCE_DIR": str(DEFAULT_INSTANCE_DIR),
    "MASTER_KEY": None,  # read from INSTANCE_DIR/master.key when unset
    "REDIS_URL": None,
    "RATELIMIT_DEFAULT": "6000 per minute",
    # dlib's 128-d model: distance <= 0.6 is its published same-person tolerance on
    # LFW; issuance binds a card to a person, so we sit stricter, at 0.5. The shipped
    # matcher's threshold: `ecard faces evaluate` measures FAR/FRR at it (not an
    # environment setting: the evaluation reports what is shipped).
    "FACE_THRESHOLD_ISSUANCE": 0.5,
    # Every liveness session (pension certification, and the real-person check of a
    # first e-card and of a PIN reset) decides who is paid or who holds a card: the
    # same 0.5; elder mode uses this value too (it never loosens identity).
    "FACE_THRESHOLD_CERTIFICATION": 0.5,
    "CERTIFICATION_MAX_FRAMES": 12,  # frames per submission
    "CERTIFICATION_MAX_FRAME_BYTES": 1024 * 1024,  # one 640-1280 px JPEG/PNG frame
    # The "day" of "three failed sessions a day" is the local day (China: UTC+8).
    "CERTIFICATION_UTC_OFFSET_MIN": 480,
    # Certification period (months) of residents and civil servants by region code
    # prefix, "44=6,310101=3"; 12 where none matches.
    "CERTIFICATION_REGION_PERIODS": "",
    # An approved appeal of an issuance or PIN-reset session makes that session
    # spendable once for this long after the decision (the holder hears by post or
    # phone: days, not the 10 minutes of a passed session).
    "CERTIFICATION_APPEAL_SPEND_WINDOW_S": 72 * 3600,
    "CHANNEL_TOKEN_MAX_AGE_S": 300,
    "CLOCK_SKEW_S": 30,
    "CREDENTIAL_TTL_S": 24 * 3600,
    "MAX_IMAGE_BYTES": 5 * 1024 * 1024,
    "MAX_CONTENT_LENGTH": 16 * 1024 * 1024,
    "LOG_JSON": False,
    "PUBLIC_URL": "http://127.0.0.1:8000",
    # Payments at or under this amount (fen) are captured without the holder's PIN.
    "PAYMENT_NO_PIN_LIMIT_FEN": 20000,
    # What the demo bank adapter holds for each newly linked holder account (fen).
    "PAYMENT_DEMO_FUNDS_FEN": 100000,
    # Callbacks (ecard worker): 30 attempts back off to hourly and span about 22 h
    # (see ecard/notifications/retry.py); then the notification is dead-lettered.
    "CALLBACK_MAX_ATTEMPTS": 30,
    "CALLBACK_CONNECT_TIMEOUT_S": 3.0,
    "CALLBACK_READ_TIMEOUT_S": 10.0,
    "CALLBACK_BATCH_SIZE": 100,
    "CALLBACK_CONCURRENCY": 8,
    "CALLBACK_LEASE_S": 300.0,
    "BANK_SMS_URL": None,  # set: level-2 SMS codes go through this bank (channel_adapters)
    "BANK_SMS_CODE": None,
    # Level-2 SMS through each card's own bank: "ICBC=https://…,CCB=https://…"
    "BANK_SMS_URLS": None,
    "H5_SESSION_TTL_S": 900,
    # Medical insurance policies by insured-region prefix for bills settled through
    # the platform: "44=8500:50000:30000000:1000" (ratio_bp:deductible_fen:cap_fen
    # [:unfiled_reduction_bp]); a region with none cannot settle (MEDICAL_POLICY_UNKNOWN).
    "MEDICAL_POLICIES": "",
    # flask-smorest / OpenAPI
    "API_TITLE": "ecard platform API",
    "API_VERSION": "v1",
    "OPENAPI_VERSION": "3.0.3",
    "OPENAPI_URL_PREFIX": "/api",
    "OPENAPI_JSON_PATH": "openapi.json",
    "OPENAPI_SWAGGER_UI_PATH": "/docs",
    "OPENAPI_SWAGGER_UI_URL": "/api/docs/static/",
    "JSON_SORT_KEYS": False,
}


def load_config(environ: Mapping[str, str] | None = None,
                overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Defaults, then the environment, then ``overrides`` (tests)."""
    env = os.environ if environ is None else environ
    config: dict[str, Any] = dict(DEFAULTS)
    for name, (key, parse) in ENV_SETTINGS.items():
        if name in env and env[name] != "":
            config[key] = parse(env[name])
    if overrides:
        config.update(overrides)
    if not config.get("DATABASE_URL"):
        db_path = Path(config["INSTANCE_DIR"]).resolve() / "ecard.sqlite3"
        config["DATABASE_URL"] = f"sqlite:///{db_path}"
    return config
