"""Presidio pieces that would otherwise reach for the network.

Presidio's email recognizer validates domains with `tldextract`, whose default extractor
fetches the public-suffix list over HTTP on first use. Release machines have no network
and a scan must never try: this recognizer validates against tldextract's bundled snapshot.
"""

from __future__ import annotations

import tldextract
from presidio_analyzer.predefined_recognizers import EmailRecognizer

_SNAPSHOT_EXTRACT = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None, fallback_to_snapshot=True)


class OfflineEmailRecognizer(EmailRecognizer):
    """Presidio's email recognizer, validating top-level domains from the bundled snapshot."""

    def validate_result(self, pattern_text: str) -> bool:
        return _SNAPSHOT_EXTRACT(pattern_text).fqdn != ""
