"""Housekeeping: deleting rows that only mattered for a while (``ecard maintenance``)."""
