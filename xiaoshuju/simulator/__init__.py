"""Seeded simulator of a community-retail brand (issue 4)."""
