"""The exception tree of ``lake``. Every error a user can meet derives from :class:`LakeError`."""

from __future__ import annotations

import importlib


def java_cause(exc: BaseException) -> str | None:
    """The innermost Java exception behind a Py4J/Spark error as one line, e.g.
    ``java.io.IOException: No space left on device``: what a user can act on, instead of
    Py4J's call stack. None for a Python error (or when the JVM is gone).
    """
    java = getattr(exc, "java_exception", None) or getattr(exc, "_origin", None)
    if java is None:
        return None
    try:
        while java.getCause() is not None and not java.getCause().equals(java):
            java = java.getCause()
        return " ".join(str(java.toString()).split())[:500]
    except Exception:
        return None


class LakeError(Exception):
    """Base class of every error raised by ``lake``."""


class ConfigError(LakeError):
    """A configuration file is missing, malformed or inconsistent.

    The message always names the file and the key path, e.g.
    ``conf/lake.yml: sources.ura.format: expected one of json, csv; found 'xml'``.
    """

    def __init__(self, file: str, key: str, message: str) -> None:
        self.file = file
        self.key = key
        self.detail = message
        where = f"{file}: {key}: " if key else f"{file}: "
        super().__init__(where + message)


class PreflightError(LakeError):
    """The machine cannot run Spark as configured (Java, pyspark/delta pair, jars)."""


class MissingExtraError(PreflightError, ImportError):
    """An optional part of the package is used without its extra installed.

    Also an :class:`ImportError`, since it is raised where the part is imported.
    """


def require_extra(extra: str, *modules: str) -> None:
    """Import ``modules`` or fail naming the extra that installs them.

    Raises:
        MissingExtraError: ``pip install 'lake[<extra>]'`` is missing, e.g.
            ``the 'datagen' extra is not installed (no module faker): pip install 'lake[datagen]'``.
    """
    missing = []
    for name in modules:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError:
            missing.append(name)
    if missing:
        raise MissingExtraError(
            f"the {extra!r} extra is not installed (no module {', '.join(missing)}): "
            f"pip install 'lake[{extra}]'"
        )


class SourceError(LakeError):
    """A source cannot be read: missing files or table, bad credentials, database down."""


class QualityError(LakeError):
    """A data-quality rule with action ``fail`` failed, or format evidence refuted a format."""


class PipelineError(LakeError):
    """A pipeline step cannot run (e.g. an upstream table does not exist yet)."""


class LakeLockedError(LakeError):
    """Another run holds the lake's lock (``{root}/_system/_lock``)."""
