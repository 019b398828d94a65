"""Masking of secrets in anything shown or stored: messages, logs, ``lake plan``, run records.

The one definition of what a secret in a JDBC URL looks like; every module that prints or
records a URL or an error message passes it through :func:`redact`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

#: ``password=...`` parameters (up to the next ``&`` or ``;``) and ``//user:password@`` forms.
_PASSWORD_PARAM = re.compile(r"(?i)(password=)[^&;]*")
_USERINFO = re.compile(r"//([^/@:]+):([^/@]*)@")


def redact(text: str, secrets: Iterable[str | None] = ()) -> str:
    """``text`` (a URL, or a message holding URLs) with passwords and the given secrets masked.

    Example:
        >>> redact("jdbc:postgresql://u:pw@h/db?user=u&password=s3cret")
        'jdbc:postgresql://u:***@h/db?user=u&password=***'
        >>> redact("login failed for hunter2", ["hunter2", None])
        'login failed for ***'
    """
    out = _USERINFO.sub(r"//\1:***@", _PASSWORD_PARAM.sub(r"\1***", text))
    for secret in secrets:
        if secret:
            out = out.replace(secret, "***")
    return out
