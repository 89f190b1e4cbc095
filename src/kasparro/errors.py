"""The one error tree of Kasparro.

KasparroError                    base; carries an HTTP status for the API edge
├── ConfigurationError           settings or environment unusable (500)
├── NotFoundError                unknown resource (404)
├── RunsNotComparableError       two runs of different sources compared (422)
├── TriggerDisabledError         no SCHEDULER_TOKEN configured (503)
├── InvalidTokenError            missing or wrong scheduler token (401)
├── EtlAlreadyRunningError       a run of a requested source is in progress (409)
├── CallBudgetSpentError         a source's monthly call budget is used up (429)
├── ExportTooLargeError          an export over EXPORT_MAX_ROWS (413)
└── SourceError                  a source could not deliver its data
    ├── TransientSourceError     worth retrying (timeouts, 429, 5xx)
    └── TerminalSourceError      give up (bad file, missing column, 4xx)
        └── UpstreamRefusedError an upstream answered 4xx (its status and body kept)
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


class CallBudgetSpentError(KasparroError):
    """No request was sent: this month's calls of the source reached its monthly budget."""

    status_code = 429

    def __init__(self, source: str, budget: int) -> None:
        super().__init__(
            f"the monthly call budget of {source} ({budget} calls) is spent for this month"
        )
        self.source = source
        self.budget = budget


class ExportTooLargeError(KasparroError):
    status_code = 413

    def __init__(self, rows: int, limit: int) -> None:
        super().__init__(
            f"Export of {rows} rows is over EXPORT_MAX_ROWS ({limit}); "
            "narrow the assets or the time range"
        )


class SourceError(KasparroError):
    status_code = 502


class TransientSourceError(SourceError):
    pass


class TerminalSourceError(SourceError):
    pass


class UpstreamRefusedError(TerminalSourceError):
    """A 4xx answer (other than 429): the status and the start of the body, to tell why."""

    def __init__(self, message: str, status: int, body: str) -> None:
        super().__init__(message)
        self.status = status
        self.body = body
