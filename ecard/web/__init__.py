"""The H5 pages channels open in their web views: remote face certification in
standard and elder mode, a home page and settings (elder mode entry)."""

from __future__ import annotations
