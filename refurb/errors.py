"""The one exception tree of refurb.

Every error a user can cause is a RefurbError with a kebab-case reference, a one-line
message, optional context lines and a hint.  The CLI maps them to exit codes in exactly
one place (refurb.cli).  Messages arrive here already translated; this module imports nothing.
"""


class RefurbError(Exception):
    """Base of every error meant for a person, not a traceback."""

    code = "error"
    exit_code = 1

    def __init__(self, message, *, hint=None, context=(), code=None, data=None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.context = list(context)
        self.data = data or {}
        if code:
            self.code = code


class UsageProblem(RefurbError):
    code = "usage"
    exit_code = 2


class NotFound(RefurbError):
    code = "not-found"
    exit_code = 3


class Misread(NotFound):
    """A code shaped like our asset tag whose check character does not match."""

    code = "misread-tag"


class TransitionRefused(RefurbError):
    code = "transition-refused"
    exit_code = 4


class InvalidConfig(RefurbError):
    """A profile, template, checklist, catalogue or configuration file is wrong."""

    code = "invalid-config"
    exit_code = 5


class HardwareUnavailable(RefurbError):
    code = "hardware-unavailable"
    exit_code = 6


class Interrupted(RefurbError):
    code = "interrupted"
    exit_code = 130


class Conflict(RefurbError):
    """The thing exists already, or another write got there first."""

    code = "conflict"
    exit_code = 1


class NotAllowed(RefurbError):
    """The operator's role does not allow this action."""

    code = "not-allowed"
    exit_code = 1


class DatabaseProblem(RefurbError):
    code = "database"
    exit_code = 1


class AuditFailed(RefurbError):
    code = "audit-failed"
    exit_code = 1
