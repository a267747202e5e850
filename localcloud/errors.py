"""Errors the local cloud raises about the template or its own state."""


class LocalCloudError(Exception):
    """Base class: something the local cloud cannot do, with the reason."""


class TemplateError(LocalCloudError):
    """The template is malformed or uses something that cannot be resolved."""


class UnsupportedError(LocalCloudError):
    """A resource type, event source or property the local cloud does not emulate."""
