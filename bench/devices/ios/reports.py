"""Read the iPhone's diagnostic reports bench pulls from the crash report folder.

A JetsamEvent report (`JetsamEvent-<date>.ips`) is, since iOS 15, two JSON documents: a one-line
header (`{"bug_type":"298", "os_version":"iPhone OS 17.4.1 (21E236)", ...}`) and a body listing every
process resident when memory ran out:

    {"largestProcess": "BenchRunner", "processes": [
        {"name": "BenchRunner", "pid": 412, "reason": "per-process-limit", "killDelta": 5120, ...},
        {"name": "SpringBoard", "pid": 34, "states": ["daemon"], ...}, ...]}

(older iOS writes the body alone). A process the event killed carries a `reason`; the others were only
resident. The runner is only to blame for an event that killed it.
"""

from __future__ import annotations

import json
from typing import Any


def _documents(text: str) -> list[Any]:
    """Each JSON document in `text`, in order (the .ips header, then the body)."""
    decoder, documents, at = json.JSONDecoder(), [], 0
    while at < len(text):
        while at < len(text) and text[at].isspace():
            at += 1
        if at >= len(text):
            break
        try:
            document, at = decoder.raw_decode(text, at)
        except json.JSONDecodeError:
            break
        documents.append(document)
    return documents


def jetsam_killed(text: str, process_name: str) -> bool:
    """Whether this JetsamEvent report killed `process_name` (not merely listed it as resident)."""
    for body in (d for d in _documents(text) if isinstance(d, dict) and "processes" in d):
        processes = body.get("processes") or []
        if any(isinstance(p, dict) and p.get("name") == process_name and p.get("reason") for p in processes):
            return True
        if not processes and body.get("largestProcess") == process_name:  # a body with no process list
            return True
    return False
