"""The base class of every error that emofx expects and explains.

``emofx <command>`` prints an :class:`EmofxError` as one line, ``emofx: error: <message>`` (exit
1; 2 for an invalid params file), and shows the traceback only with ``--debug``. Domain errors
keep their builtin base as well (``ValueError``, ``FileNotFoundError``, ``RuntimeError``), so code
that catches those keeps working.
"""

from __future__ import annotations


class EmofxError(Exception):
    """An expected failure whose message alone tells the user what is wrong and what to do."""
