"""Taking the API key out of any text before it is shown, logged or kept."""

from __future__ import annotations


def redact(text_: str, secret: str) -> str:
    """Remove the key from any text (a URL, a body, an exception) before it is shown or kept."""
    if secret and len(secret) >= 4:
        text_ = text_.replace(secret, "<APIKEY>")
    return text_
