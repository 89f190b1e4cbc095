"""Kasparro: crypto market-data ETL and REST API."""

__version__ = "0.1.0"
