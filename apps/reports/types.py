"""Importing this module registers every report type (AppConfig.ready)."""

from . import csv_reports, dgoj  # noqa: F401
