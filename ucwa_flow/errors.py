"""The exception tree shared by every layer.

Every error that ucwa-flow raises on purpose derives from :class:`UcwaFlowError`, so the
command line can turn any of them into one clear line instead of a traceback. Layers add
their own subclasses next to their code (``ucwa_flow.ucwa.errors`` for the protocol,
``ucwa_flow.flow`` for flow files); this module holds only the roots.
"""

from __future__ import annotations

__all__ = ["OperationalError", "UcwaFlowError", "UnreadableFileError"]


class UcwaFlowError(Exception):
    """Root of every deliberate ucwa-flow error."""


class OperationalError(UcwaFlowError):
    """Something outside the flow went wrong (network, credentials, ports, files).

    The message is a complete sentence a person can act on; the CLI prints it as is.
    """


class UnreadableFileError(OperationalError):
    """A file named on the command line does not exist or cannot be read.

    Every command reports it the same way, ``ucwa-flow: error: MESSAGE``, and exits with
    status 2, as for any other mistake in the command line. The message names the file
    first (``flows/x.flow.yaml: no such flow file``).
    """
