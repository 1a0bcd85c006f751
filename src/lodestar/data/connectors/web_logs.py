"""Apache access logs in the combined format (the Elastic ``apache_logs`` sample: 10,000 requests
to semicomplete.com, 17-20 May 2015) as anonymous web ``events``.

Lines are parsed column-wise with Arrow's compiled regular expressions, in batches of 100,000
lines, in two passes: the first finds each visitor's sessions (keeping only a time and a visitor
number per line), the second builds the events batch by batch, so memory stays bounded for logs
of any size. The log's time offset is applied and times are stored in UTC.

Mapping decisions:

- ``event_id`` = ``WL`` + the line number (stable for the same file); ``platform`` ``web``.
- ``anonymous_id`` = ``WV`` + the first 20 hex digits of SHA-256 over (client IP, user agent).
  The raw IP is personal data and never stored. This is pseudonymisation, not anonymisation:
  anyone holding the log can recompute the hash.
- ``session_id``: per visitor, a new session after 30 minutes without a request (the log is not
  strictly in time order: requests are sorted per visitor first); the id is the visitor id plus
  the session's first second (``WV...:1431857103``).
- ``event_name``, first rule that applies:
  ``feed_fetch`` for RSS / Atom requests (``?flav=rss20`` / ``?flav=atom``, ``/feed``, ``.rss``,
  ``.atom``) or feed-reader user agents (``feed``, ``rss`` in the agent); ``bot_hit`` for
  crawlers and scripts (``bot``, ``crawl``, ``spider``, ``slurp``, curl, wget, Python, Java...);
  ``asset_load`` for static files (images, CSS, JS, fonts, icons); ``page_view`` for the rest,
  including error statuses (the status is in ``properties``).
- ``page`` = the path without the query string; ``referrer`` null for ``-``; ``source`` /
  ``medium`` / ``campaign`` from ``utm_source`` / ``utm_medium`` / ``utm_campaign`` in the query
  (URL-decoded); ``properties`` = ``method``, ``status``, ``bytes`` (null for ``-``),
  ``protocol``, ``query``, ``user_agent``.
- Lines that are not combined-format requests (or whose time or request line does not parse)
  are skipped and counted, with a log message giving the count and the first such line. More
  than 1% of them means the file is not an access log: the import stops with a DatasetError.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from urllib.parse import unquote_plus

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lodestar.data.connectors.base import (
    DatasetConnector,
    canonical,
    json_objects,
    map_distinct,
    prefixed,
)
from lodestar.data.schema import EVENTS
from lodestar.errors import DatasetError

log = logging.getLogger(__name__)

# Arrow (RE2) syntax. Quoted fields may hold backslash-escaped quotes. The user agent's closing
# quote is optional: a line cut short inside it (line 8,899 of the Elastic sample) still says
# who asked for what.
LINE = (
    r'^(?P<ip>\S+) \S+ \S+ \[(?P<ts>[^\]]+)\] "(?P<request>(?:[^"\\]|\\.)*)" '
    r"(?P<status>\d{3}) (?P<bytes>\d+|-)"
    r'(?: "(?P<referrer>(?:[^"\\]|\\.)*)" "(?P<agent>(?:[^"\\]|\\.)*)"?)?\s*$'
)
REQUEST = r"^(?P<method>[A-Z]+) (?P<target>[^ ?]*)(?:\?(?P<query>\S*))?(?: (?P<protocol>\S+))?$"
TIME_FORMAT = "%d/%b/%Y:%H:%M:%S %z"
FEED_PATH = r"(?:[?&]flav=(?:rss|atom)|/feed/?$|/rss/?$|\.rss$|\.atom$)"
FEED_AGENT = r"feed|rss"
BOT_AGENT = (
    r"bot|crawl|spider|slurp|archiver|curl|wget|python|java/|libfetch|httpclient|go-http|"
    r"monitor|scan"
)
ASSET_PATH = r"\.(?:png|jpe?g|gif|ico|svg|webp|bmp|css|js|woff2?|ttf|otf|eot|map)$"
UTM = ("source", "medium", "campaign")
SESSION_GAP_US = 30 * 60 * 1_000_000
MAX_BAD_SHARE = 0.01
BATCH_LINES = 100_000
HASH_NAMESPACE = "lodestar:web-logs:"
EXAMPLE = '1.2.3.4 - - [17/May/2015:10:05:03 +0000] "GET / HTTP/1.1" 200 123 "-" "Mozilla/5.0"'


@dataclass
class Batch:
    """The requests of one batch of lines that parsed (other lines are dropped)."""

    line: np.ndarray  # line numbers in the file (1-based)
    fields: pa.StructArray  # LINE's groups
    request: pa.StructArray  # REQUEST's groups
    ts: pa.Array  # timestamp[us, tz=UTC]


@dataclass
class Skipped:
    total: int = 0
    bad: int = 0
    first_line: int | None = None
    first_reason: str | None = None

    def add(self, lines: np.ndarray, reason: str) -> None:
        if len(lines) and self.first_line is None:
            self.first_line, self.first_reason = int(lines[0]), reason
        self.bad += len(lines)


def _batches(path: Path, skipped: Skipped) -> Iterator[Batch]:
    with path.open("r", encoding="utf-8", errors="replace", newline="") as fh:
        first_line = 1
        while lines := list(islice(fh, BATCH_LINES)):
            text = pc.utf8_rtrim(pa.array(lines, pa.string()), characters="\r\n")
            numbers = np.arange(first_line, first_line + len(lines))
            first_line += len(lines)
            blank = pc.equal(pc.utf8_trim_whitespace(text), "").to_numpy(zero_copy_only=False)
            skipped.total += int((~blank).sum())
            fields = pc.extract_regex(text, LINE)
            matched = fields.is_valid().to_numpy(zero_copy_only=False) & ~blank
            skipped.add(numbers[~matched & ~blank], "not an Apache combined-format line")
            keep = pa.array(matched)
            fields = fields.filter(keep)
            numbers = numbers[matched]
            ts = pc.strptime(fields.field("ts"), format=TIME_FORMAT, unit="us", error_is_null=True)
            request = pc.extract_regex(fields.field("request"), REQUEST)
            ts_ok = ts.is_valid().to_numpy(zero_copy_only=False)
            req_ok = request.is_valid().to_numpy(zero_copy_only=False)
            skipped.add(numbers[~ts_ok], "the time is not dd/Mon/yyyy:HH:MM:SS +hhmm")
            skipped.add(numbers[ts_ok & ~req_ok], "the request is not 'METHOD path [protocol]'")
            good = pa.array(ts_ok & req_ok)
            kept = numbers[ts_ok & req_ok]
            yield Batch(kept, fields.filter(good), request.filter(good), ts.filter(good))


def _visitor_hash(key: str) -> str:
    return "WV" + hashlib.sha256((HASH_NAMESPACE + key).encode()).hexdigest()[:20]


def _visitors(batch: Batch) -> pa.Array:
    key = pc.binary_join_element_wise(
        batch.fields.field("ip"), pc.fill_null(batch.fields.field("agent"), ""), "\x1f"
    )
    return map_distinct(key, _visitor_hash)


def _sessions(path: Path) -> pa.Array:
    """Session id of every request that parsed, in file order."""
    skipped = Skipped()
    codes: list[np.ndarray] = []
    times: list[np.ndarray] = []
    visitor_code: dict[str, int] = {}
    for batch in _batches(path, skipped):
        encoded = pc.dictionary_encode(_visitors(batch))
        local = np.array(
            [visitor_code.setdefault(v, len(visitor_code)) for v in encoded.dictionary.to_pylist()],
            dtype=np.int64,
        )
        codes.append(local[encoded.indices.to_numpy(zero_copy_only=False)])
        times.append(batch.ts.cast(pa.int64()).to_numpy(zero_copy_only=False))
    if skipped.total == 0:
        raise DatasetError(
            f"{path}: no requests (the file is empty)", hint=f"expected lines like: {EXAMPLE}"
        )
    if skipped.bad > MAX_BAD_SHARE * skipped.total:
        raise DatasetError(
            f"{path}: {skipped.bad} of {skipped.total} lines are not Apache combined-format "
            f"requests (first: line {skipped.first_line}, {skipped.first_reason})",
            hint=f"expected lines like: {EXAMPLE}",
        )
    if skipped.bad:
        log.warning(
            "%s: skipped %d of %d lines; first at line %d: %s",
            path, skipped.bad, skipped.total, skipped.first_line, skipped.first_reason,
        )  # fmt: skip
    code = np.concatenate(codes)
    ts = np.concatenate(times)
    order = np.lexsort((ts, code))
    c, t = code[order], ts[order]
    new = np.ones(len(c), dtype=bool)
    new[1:] = (c[1:] != c[:-1]) | (t[1:] - t[:-1] > SESSION_GAP_US)
    number = np.cumsum(new) - 1
    names = np.array(list(visitor_code), dtype=object)
    session_ids = pc.binary_join_element_wise(
        pa.array(names[c[new]], pa.string()),
        pa.array(t[new] // 1_000_000).cast(pa.string()),
        ":",
    )
    per_request = np.empty(len(c), dtype=np.int64)
    per_request[order] = number
    return session_ids.take(pa.array(per_request))


def _utm(query: pa.Array, name: str) -> pa.Array:
    value = pc.extract_regex(query, rf"(?:^|&)utm_{name}=(?P<v>[^&]*)")
    text = pc.if_else(value.is_valid(), value.field("v"), None)
    return map_distinct(text, unquote_plus)


def _event_names(target: pa.Array, query: pa.Array, agent: pa.Array) -> pa.Array:
    url = pc.binary_join_element_wise(target, query, "?")
    feed = pc.or_(
        pc.match_substring_regex(url, FEED_PATH, ignore_case=True),
        pc.match_substring_regex(agent, FEED_AGENT, ignore_case=True),
    )
    bot = pc.match_substring_regex(agent, BOT_AGENT, ignore_case=True)
    asset = pc.match_substring_regex(target, ASSET_PATH, ignore_case=True)
    return pc.case_when(
        pc.make_struct(feed, bot, asset),
        "feed_fetch", "bot_hit", "asset_load", "page_view",
    )  # fmt: skip


def _absent(values: pa.Array, *placeholders: str) -> pa.Array:
    """``values`` with the log's placeholders for "nothing" (``-``, empty) as null."""
    return pc.if_else(pc.is_in(values, pa.array(placeholders)), None, values)


def read(path: Path) -> Iterator[tuple[str, pa.Table]]:
    sessions = _sessions(path)
    done = 0
    for batch in _batches(path, Skipped()):
        n = len(batch.line)
        f, r = batch.fields, batch.request
        agent = _absent(f.field("agent"), "", "-")
        query = r.field("query")
        yield (
            "events",
            canonical(
                EVENTS,
                {
                    "event_id": prefixed("WL", batch.line, 6),
                    "ts": batch.ts,
                    "anonymous_id": _visitors(batch),
                    "platform": "web",
                    "event_name": _event_names(r.field("target"), query, pc.fill_null(agent, "")),
                    "session_id": sessions.slice(done, n),
                    "page": r.field("target"),
                    "referrer": _absent(f.field("referrer"), "", "-"),
                    "source": _utm(query, "source"),
                    "medium": _utm(query, "medium"),
                    "campaign": _utm(query, "campaign"),
                    "properties": json_objects(
                        {
                            "method": r.field("method"),
                            "status": f.field("status").cast(pa.int64()),
                            "bytes": _absent(f.field("bytes"), "-").cast(pa.int64()),
                            "protocol": _absent(r.field("protocol"), ""),
                            "query": _absent(query, ""),
                            "user_agent": agent,
                        }
                    ),
                },
                n,
            ),
        )
        done += n


CONNECTOR = DatasetConnector(
    name="web-logs",
    title="Apache access logs (combined format; Elastic sample, 10,000 requests)",
    description=(
        "each request -> a web event (page_view / asset_load / feed_fetch / bot_hit) of an "
        "anonymous visitor (hash of IP + user agent) in 30-minute sessions, times in UTC"
    ),
    default_files=("apache_logs", "access.log", "access_log"),
    expected_rows={"events": 10_000},
    reader=read,
)
