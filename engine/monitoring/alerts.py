"""Telling someone: a POST of monitor.json's summary to ``alerts.webhook``.

A webhook that cannot be reached, times out or answers an error status is tried once more, then
recorded (in monitor.json and on the console) rather than raised: the report still gets written
and the exit status still says whether a threshold was crossed.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any

from engine.errors import first_line
from engine.monitoring.summary import WebhookOutcome

TIMEOUT_S = 10.0
ATTEMPTS = 2  # one retry
RETRY_PAUSE_S = 1.0


def post_webhook(url: str, payload: dict[str, Any], *, timeout_s: float = TIMEOUT_S,
                 attempts: int = ATTEMPTS, pause_s: float = RETRY_PAUSE_S) -> WebhookOutcome:
    """POST ``payload`` as JSON to ``url``; a 2xx answer is delivered. Never raises for the
    receiver's faults: the outcome says what happened."""
    body = json.dumps(payload, default=str, allow_nan=False).encode()
    error, status = None, None
    for attempt in range(1, attempts + 1):
        request = urllib.request.Request(
            url, data=body, method="POST",
            headers={"Content-Type": "application/json", "User-Agent": "engine-monitor"})
        try:
            with urllib.request.urlopen(request, timeout=timeout_s) as answer:
                status = int(answer.status)
            return WebhookOutcome(url=url, delivered=True, status=status, attempts=attempt)
        except urllib.error.HTTPError as failure:
            status, error = failure.code, f"HTTP {failure.code} {failure.reason}"
        except (urllib.error.URLError, OSError, ValueError) as failure:
            reason = getattr(failure, "reason", failure)
            status, error = None, first_line(reason) if isinstance(reason, BaseException) \
                else str(reason)
        if attempt < attempts:
            time.sleep(pause_s)
    return WebhookOutcome(url=url, delivered=False, status=status, attempts=attempts,
                          error=error)


def check_webhook(url: str) -> str:
    """An http(s) URL, checked before any work: urllib would also open file:// and ftp://."""
    from urllib.parse import urlsplit

    from engine.errors import ConfigError

    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"monitor.alerts.webhook: {url!r} is not an http(s) URL; give one such "
                          "as https://hooks.example.com/monitor, or null for no webhook.")
    return url
