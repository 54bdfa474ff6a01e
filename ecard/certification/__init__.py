"""Pension certification (待遇资格认证): remote face-and-liveness analysis.

``liveness`` measures actions from landmarks; ``analysis`` turns uploaded frames into
a pass or fail with reasons and scores. The HTTP sessions, entitlement periods and
appeals build on these.
"""
