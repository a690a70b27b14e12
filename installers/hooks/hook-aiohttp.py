"""aiohttp and its helpers import their C speedups inside try/except (falling back to slow pure
Python silently): name them so the frozen server keeps the C HTTP parser."""

hiddenimports = [
    "aiohttp._http_parser",
    "aiohttp._http_writer",
    "aiohttp._websocket.mask",
    "aiohttp._websocket.reader_c",
    "multidict._multidict",
    "yarl._quoting_c",
    "propcache._helpers_c",
    "frozenlist._frozenlist",
]
