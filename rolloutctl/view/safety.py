"""What the viewer may show of a file: no secrets, and no string that could act as markup
or as a terminal escape.

Every JSON body the app sends passes through `shown`: keys named like secrets lose their
values, credentials inside URLs are masked, and every control character becomes a
visible escape (`visible`). The page then only ever sets text, never HTML, so a
`<script>` in a model's answer stays the nine characters it is.
"""

from __future__ import annotations

import re
from typing import Any

from rolloutctl.trajectory.text import visible

__all__ = ["secret_key", "shown", "shown_text"]

_SECRET_KEY = re.compile(
    r"(^|_)(api_?key|key|token|secret|password|passwd|authorization|cookie|credentials?)$",
    re.IGNORECASE,
)
_URL_USER = re.compile(r"(\b[a-zA-Z][a-zA-Z0-9+.-]*://)[^/\s@]+@")
_URL_SECRET = re.compile(
    r"([?&](?:api_?key|key|token|access_token|secret|password|sig)=)[^&\s#]+", re.IGNORECASE
)


def secret_key(name: str) -> bool:
    """A dict key whose value is a secret: api_key, server-key, token, password, ..."""
    return bool(_SECRET_KEY.search(name.replace("-", "_")))


def shown_text(text: str) -> str:
    """`text` with URL credentials masked and control characters made visible."""
    if "://" in text or "=" in text:
        text = _URL_SECRET.sub(r"\1***", _URL_USER.sub(r"\1***@", text))
    return visible(text)


def shown(value: Any) -> Any:
    """A copy of a JSON value safe to send to the page (see the module's docstring)."""
    if isinstance(value, str):
        return shown_text(value)
    if isinstance(value, dict):
        return {shown_text(str(k)): "***" if _hidden(k, v) else shown(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shown(v) for v in value]
    return value


def _hidden(key: Any, value: Any) -> bool:
    return secret_key(str(key)) and value not in (None, "", [], {})
