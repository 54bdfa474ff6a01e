"""Payments: the device-generated payment code (付款码) first; the ledger, refunds and
reconciliation come with the database part of issue 4."""
