"""HTTP ``Content-Encoding`` for request bodies: gzip, deflate or none, with a size cap.

Shared by the OTLP receiver (which may run it in its decode worker processes) and the collector
endpoints, so it imports nothing of the HTTP stack.
"""

from __future__ import annotations

import zlib

from errors import InputError, PayloadTooLarge, UnsupportedMediaType


def decompress(body: bytes, encoding: str | None, limit: int) -> bytes:
    """Undo ``Content-Encoding`` (gzip, deflate or none), never producing more than ``limit``.

    Decompression runs in bounded steps, so a small body that inflates enormously (a "gzip
    bomb") is stopped at the limit with `PayloadTooLarge` instead of exhausting memory.
    """
    coding = (encoding or "identity").strip().lower()
    if coding in ("identity", ""):
        return body
    if coding in ("gzip", "x-gzip"):
        wbits = 16 + zlib.MAX_WBITS
    elif coding == "deflate":
        wbits = zlib.MAX_WBITS  # zlib-wrapped, as HTTP's "deflate" means
    else:
        raise UnsupportedMediaType(f"unsupported Content-Encoding {coding!r}: use gzip")
    out = bytearray()
    data = body
    try:
        while data:
            inflater = zlib.decompressobj(wbits)
            while True:
                chunk = inflater.decompress(data, limit + 1 - len(out))
                out += chunk
                if len(out) > limit:
                    raise PayloadTooLarge(
                        f"request body is over the {limit:,} byte limit once decompressed"
                    )
                data = inflater.unconsumed_tail
                if inflater.eof or (not chunk and not data):
                    break
            if not inflater.eof:
                raise InputError(f"truncated {coding} body")
            # gzip allows several members back to back; deflate has exactly one stream.
            data = inflater.unused_data if coding != "deflate" else b""
    except zlib.error as exc:
        raise InputError(f"cannot decompress the {coding} body: {exc}") from exc
    return bytes(out)
