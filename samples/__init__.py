"""Runnable samples: a channel server and a terminal built on ecard_sdk, and the demo data."""
