"""The one error tree of Kasparro.

KasparroError                    base; carries an HTTP status for the API edge
├── ConfigurationError           settings or environment unusable (500)
├── NotFoundError                unknown resource (404)
├── RunsNotComparableError       two runs of different sources compared (422)
├── TriggerDisabledError         no SCHEDULER_TOKEN configured (503)
├── InvalidTokenError            missing or wrong scheduler token (401)
├── EtlAlreadyRunningError       a run of a requested source is in progress (409)
└── SourceError                  a source could not deliver its data
    ├── TransientSourceError     worth retrying (timeouts, 429, 5xx)
    └── TerminalSourceError      give up (bad file, missing column, 4xx)
"""

from __future__ import annotations


class KasparroError(Exception):
    """Base of every error we raise on purpose."""

    status_code = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConfigurationError(KasparroError):
    status_code = 500


class NotFoundError(KasparroError):
    status_code = 404


class RunsNotComparableError(KasparroError):
    status_code = 422


class TriggerDisabledError(KasparroError):
    status_code = 503


class InvalidTokenError(KasparroError):
    status_code = 401


class EtlAlreadyRunningError(KasparroError):
    status_code = 409


class SourceError(KasparroError):
    status_code = 502


class TransientSourceError(SourceError):
    pass


class TerminalSourceError(SourceError):
    pass
