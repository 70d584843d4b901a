"""Errors raised by aggregates when a command breaks a rule. They never mutate state."""


class DomainError(Exception):
    """A command was refused; the aggregate is unchanged."""


class InvalidTransition(DomainError):
    """The aggregate's status does not allow this command."""


class InvalidRange(DomainError):
    """A byte range lies outside the file or is empty."""
