"""The result writer: a draw's RFC 8785 result bytes straight from the engine's arrays.

Why: the result of a 1M-applicant draw is ~150 MB of JSON holding ~7M short strings; making one
Python object (or even one joined Python string) per member dominates the run.  Here every id
list is encoded once into a byte matrix and the output is written by numpy, field by field at
computed byte offsets, so the Python-level work is per block of rows, not per applicant.

Byte layout
-----------
* *Ids.*  A list of ids is encoded once together with the fixed text around each in the
  output (e.g. ``,"`` + id + ``"``), joined by NUL (validation rejects control characters, so
  NUL separates them); the NULs give each string's UTF-8 byte length, and the bytes go into a
  zero-padded ``uint8`` matrix ``(n, W)``, ``W`` the longest string.  When all are equally long
  the matrix is a view of the encoded bytes, rows strided by their NUL (the usual case:
  fixed-width application numbers).  Plain ids (see below) sort by code point exactly as their
  UTF-8 bytes do, and zero padding puts a prefix first, so sorting ids is a numpy sort of the
  id columns viewed as ``S{w}``.
* *Writing.*  An output section is one ``uint8`` buffer of its exact length.  A *field* (a
  constant, or a string of a matrix) is written at one byte offset per row: the buffer viewed
  as overlapping items of ``L`` bytes, one starting at every byte (``V{L}``, stride 1), is
  assigned the rows' ``L``-byte items at their offsets (strings grouped by byte length ``L``,
  of which there are few).  No padding is copied and no mask is needed.  Every byte is
  written by exactly one field, except the ``[`` opening a school's list, written after the
  entries over the first entry's comma.
* *Rows.*  A member or array element is a row of fields starting with its separating comma
  (the first row of an object drops it); a row's offset is the running sum of row lengths.

  - assignments ``,"APPID"`` + ``:{"choice":K,"school":"SID"}`` or ``:null``, applicants by
    id: the value is a row of a table with one row per distinct placement (at most schools x
    choices, plus null), picked by the applicant's placement number;
  - schools ``"SID":{"admitted":`` + ``[...]`` + ``],"waitlist":`` + ``[...]`` + ``]}``, by
    id: the entries ``,"ID"`` of every school's lists go straight to their place, an entry's
    offset being its running byte sum in the engine's order (by school number, then the
    school's order, a group's members by id) plus its school's shift;
  - tickets ``,"UNITID"`` + ``:"`` + 64 hex digits + ``"``, units by id: the digits come from
    a table of the four digits of every 2-byte value, gathered by the ticket's byte pairs.

  Rows go in blocks of ``_ROWS`` to bound the memory of the offsets and gathered items.

``result_chunks`` returns None, leaving the result to ``engine._result`` and the serialiser,
when some id needs a JSON escape (``"`` or ``\\``), lies beyond the BMP (RFC 8785 orders keys
by UTF-16 code units, which differs from code-point order there), or the ids' lengths vary so
much that the padded matrix would be far larger than the ids themselves.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from lottery.columns import Columns
    from lottery.engine import _Orders, _Units

_ROWS = 1 << 16  # rows per block
_WASTE = 4  # padded id bytes allowed per id byte (beyond a small allowance)
_TICKET = 32  # bytes of a ticket

# The lowercase hex digits of every 2-byte value (native order), as 4-byte items: one gather
# per two ticket bytes.
_HEX2 = np.frombuffer("".join(f"{i:02x}" for i in range(256)).encode(), dtype=np.uint16)
_HEX4 = _HEX2[np.arange(1 << 16, dtype=np.uint16).view(np.uint8)].view(np.uint32)
_QUOTE, _BACKSLASH, _NONBMP = 0x22, 0x5C, 0xF0  # UTF-8 lead bytes >= 0xF0 start 4-byte chars


class _Ids:
    """Strings as a zero-padded UTF-8 byte matrix ``mat`` (n, W) and their byte lengths
    ``lens`` (None when every one fills its row); each string is an id between the fixed
    texts ``pre`` and ``post``.  Rows need not be contiguous with each other, only in
    themselves."""

    def __init__(self, mat: np.ndarray, lens: np.ndarray | None, pre: int, post: int) -> None:
        self.mat = mat
        self.lens = lens
        self.pre = pre
        self.post = post

    def lens_of(self, idx: np.ndarray) -> np.ndarray | int:
        """Byte lengths of the strings numbered ``idx``."""
        if self.lens is None:
            return int(self.mat.shape[1])
        lens: np.ndarray = self.lens[idx]
        return lens

    def all_lens(self) -> np.ndarray:
        """Every string's byte length."""
        n, w = self.mat.shape
        return np.full(n, w, dtype=np.int64) if self.lens is None else self.lens

    def rows(self, idx: np.ndarray) -> _Ids:
        """The strings numbered ``idx``, renumbered 0, 1, ..."""
        lens = None if self.lens is None else self.lens[idx]
        return _Ids(self.mat[idx], lens, self.pre, self.post)

    def replaced(self, idx: np.ndarray, new: _Ids) -> _Ids | None:
        """These strings with those numbered ``idx`` replaced by ``new``'s (in order); None if
        padding would waste too much memory (as in ``_encode``: one long new string widens
        every row)."""
        n, w = self.mat.shape
        lens = self.all_lens().copy()
        lens[idx] = new.all_lens()
        width = max(w, new.mat.shape[1])
        if n * width > _WASTE * (int(lens.sum()) + n) + (1 << 16):
            return None
        mat = np.zeros((n, width), dtype=np.uint8)
        mat[:, :w] = self.mat
        mat[idx] = 0
        mat[idx, : new.mat.shape[1]] = new.mat
        return _Ids(mat, lens, self.pre, self.post)

    def order(self) -> np.ndarray:
        """Numbers of the strings in ascending code-point order of their ids (distinct)."""
        n, w = self.mat.shape
        if n < 2:
            return np.arange(n, dtype=np.int64)
        ids = self.mat[:, self.pre : w - self.post]
        if self.lens is not None:  # drop each row's ``post``: ids padded with zeros alone
            ids = ids * (np.arange(ids.shape[1]) < (self.lens - self.pre - self.post)[:, None])
            ids = ids.astype(np.uint8, copy=False)
        keys = ids.view(f"S{ids.shape[1]}")[:, 0]
        if bool((keys[1:] > keys[:-1]).all()):  # rosters often come sorted
            return np.arange(n, dtype=np.int64)
        order: np.ndarray = np.argsort(keys, kind="stable")
        return order

    def put(self, out: np.ndarray, pos: np.ndarray, idx: np.ndarray) -> None:
        """Write string ``idx[i]`` at offset ``pos[i]`` of ``out`` for every ``i``."""
        if not len(pos):
            return
        if self.lens is None:
            self._put(out, pos, idx, self.mat.shape[1])
            return
        lens = self.lens[idx]
        for n in np.flatnonzero(np.bincount(lens)).tolist():  # by byte length
            at = np.flatnonzero(lens == n)
            self._put(out, pos[at], idx[at], n)

    def _put(self, out: np.ndarray, pos: np.ndarray, idx: np.ndarray, n: int) -> None:
        _items(out, n)[pos] = self.mat[:, :n].view(f"V{n}")[idx, 0]


def _items(out: np.ndarray, n: int) -> np.ndarray:
    """``out`` as overlapping items of ``n`` bytes, item ``i`` starting at byte ``i``."""
    return np.ndarray((out.size - n + 1,), dtype=f"V{n}", buffer=out, strides=(1,))


def _const(out: np.ndarray, pos: np.ndarray, text: bytes) -> None:
    """Write ``text`` at every offset in ``pos``."""
    if not len(pos):
        return
    _items(out, len(text))[pos] = np.frombuffer(text, dtype=f"V{len(text)}")[0]


def _encode(ids: list[str], pre: str = "", post: str = "", *, plain: bool = True) -> _Ids | None:
    """``pre + id + post`` for every id, as an ``_Ids``; None if ``plain`` and some id is not
    plain (needs an escape or lies beyond the BMP) or if padding would waste too much memory."""
    n = len(ids)
    text = f"{post}\x00{pre}".join(ids)
    buf = np.frombuffer(f"{pre}{text}{post}\x00".encode() if n else b"", dtype=np.uint8)
    del text  # each string followed by one NUL
    if plain:
        quotes = n * (pre + post).count('"')
        if np.count_nonzero(buf == _QUOTE) != quotes or bool(
            ((buf == _BACKSLASH) | (buf >= _NONBMP)).any()
        ):
            return None
    a, b = len(pre.encode()), len(post.encode())
    if n and buf.size % n == 0 and buf.size > n:
        rows = buf.reshape(n, buf.size // n)
        if not rows[:, -1].any():  # the n NULs end the rows: all strings equally long
            return _Ids(rows[:, :-1], None, a, b)  # a view (rows strided by the NUL)
    ends = np.flatnonzero(buf == 0)
    lens = np.diff(ends, prepend=-1)
    lens -= 1
    w = max(int(lens.max()), 1) if n else 1
    if n * w > _WASTE * buf.size + (1 << 16):
        return None
    mat = np.zeros((n, w), dtype=np.uint8)
    mat[np.arange(w) < lens[:, None]] = np.delete(buf, ends)
    return _Ids(mat, lens, a, b)


def _offsets(lens: list[np.ndarray | int], n: int) -> tuple[np.ndarray, int]:
    """Start offsets of ``n`` consecutive rows made of fields of lengths ``lens``, and the
    rows' total length."""
    row = np.zeros(n, dtype=np.int64)
    for x in lens:
        row += x
    end = np.cumsum(row)
    total = int(end[-1]) if n else 0
    end -= row
    return end, total


_Field = bytes | Callable[[slice], tuple[_Ids, np.ndarray]]


def _object_rows(n: int, fields: list[_Field]) -> list[bytes]:
    """The members of a JSON object: rows ``0 .. n-1``, each the ``fields`` side by side (a
    constant, or a function of a block's rows giving strings and their numbers), in blocks,
    without the first row's comma."""
    out = []
    scratch = np.empty(0, dtype=np.uint8)  # reused: fresh memory costs page faults
    for lo in range(0, n, _ROWS):
        rows = slice(lo, min(lo + _ROWS, n))
        block = [f if isinstance(f, bytes) else f(rows) for f in fields]
        lens = [len(f) if isinstance(f, bytes) else f[0].lens_of(f[1]) for f in block]
        pos, total = _offsets(lens, rows.stop - lo)
        if scratch.size < total:
            scratch = np.empty(total, dtype=np.uint8)
        buf = scratch[:total]
        for f, x in zip(block, lens, strict=True):
            if isinstance(f, bytes):
                _const(buf, pos, f)
            else:
                f[0].put(buf, pos, f[1])
            pos += x
        out.append((buf[1:] if lo == 0 else buf).tobytes())
    return out


def result_chunks(
    cols: Columns,
    units: _Units,
    orders: _Orders,
    placed_k: np.ndarray,
    held: np.ndarray,
    sha256: str,
) -> list[bytes] | None:
    """The result's RFC 8785 bytes plus b"\\n", as chunks to be concatenated, or None when
    the ids call for the generic path (see the module docstring).

    Same value as ``engine._result``: keys in code-point order, compact separators, integers
    in decimal.
    """
    sids = units.school_ids
    sch = _encode(sids, '"', '":{"admitted":')
    # Every applicant as ,"ID": unit after unit and each unit's members by id (without
    # groups: the applicants, who are the units, in instance order).
    names = _encode(units.names.tolist() if cols.groups else cols.app_ids, ',"', '"')
    if sch is None or names is None:
        return None
    heads, unit_ids = names, names  # each unit's first member; unit ids
    if cols.groups:
        heads = names.rows(np.asarray(units.name_off))
        # a unit's id is its first member's, or its group's
        group_ids = _encode([g for _, g in cols.groups], ',"', '"')
        if group_ids is None:
            return None
        in_group = np.asarray(units.unit_of)[[i for i, _ in cols.groups]]
        replaced = heads.replaced(in_group, group_ids)
        if replaced is None:
            return None
        unit_ids = replaced
    values = _values(units, orders, held)
    if values is None:
        return None
    table, number = values

    # assignments, applicants by id
    by_name = names.order()
    if cols.groups:  # the unit of each name
        unit = np.repeat(np.arange(len(units.ids)), np.asarray(orders.unit_size))[by_name]
    else:
        unit = by_name
    value = number[unit]
    del unit
    out = [b'{"assignments":{']
    out += _object_rows(len(by_name), [lambda r: (names, by_name[r]), lambda r: (table, value[r])])
    out.append(f'}},"format":"paiwei-result/1","instance_sha256":"{sha256}","schools":{{'.encode())
    out.append(_schools(cols, units, orders, placed_k, held, sch, names, heads))
    out.append(b"}")

    # tickets (single tie-breaking), units by id
    if cols.tie_breaking == "single":
        by_unit = by_name if unit_ids is names else unit_ids.order()
        tickets = np.frombuffer(orders.single_tickets, dtype=f"V{_TICKET}")

        def hexes(r: slice) -> tuple[_Ids, np.ndarray]:
            pairs = tickets[by_unit[r]].view(np.uint16)
            block = np.take(_HEX4, pairs).view(np.uint8).reshape(-1, 2 * _TICKET)
            return _Ids(block, None, 0, 0), np.arange(len(block))

        out.append(b',"tickets":{')
        out += _object_rows(len(by_unit), [lambda r: (unit_ids, by_unit[r]), b':"', hexes, b'"'])
        out.append(b"}")
    out.append(b"}\n")
    return out


def placement_codes(
    orders: _Orders, held: np.ndarray, n_u: int
) -> tuple[np.ndarray, np.ndarray, int]:
    """The units' distinct placements as ascending codes school * n_k + k (n_k = most choices;
    the code n_schools * n_k is unplaced), the number of each unit's placement among them, and
    n_k.  Marking the used codes (a dense code space) keeps this linear.  (Also
    ``engine._result``'s.)"""
    n_k = int(orders.nch.max()) if n_u else 1
    unplaced = orders.n_schools * n_k
    code = np.full(n_u, unplaced, dtype=np.int64)
    school = np.take(orders.g_school, held).astype(np.int64)
    code[np.take(orders.g_unit, held)] = school * n_k + np.take(orders.g_k, held)
    if unplaced > 4 * n_u + 1024:  # a sparse code space: sort instead
        codes, number = np.unique(code, return_inverse=True)
    else:
        used = np.zeros(unplaced + 1, dtype=bool)
        used[code] = True
        codes = np.flatnonzero(used)
        number = (np.cumsum(used) - 1)[code]
    return codes, number.ravel(), n_k


def _values(units: _Units, orders: _Orders, held: np.ndarray) -> tuple[_Ids, np.ndarray] | None:
    """The assignment values ``:{"choice":K,"school":"SID"}`` and ``:null``, one per distinct
    placement (``placement_codes``), and the number of each unit's (None if the school ids are
    too uneven to pad)."""
    codes, number, n_k = placement_codes(orders, held, len(units.ids))
    unplaced = len(units.school_ids) * n_k
    # Each row written into a zero-padded matrix: row r at r * width.
    choices = _encode(
        [str(k) for k in range(1, n_k + 1)], ':{"choice":', ',"school":"', plain=False
    )
    sids = _encode(units.school_ids, "", '"}', plain=False)
    null = b":null"
    if choices is None or sids is None:
        return None
    placed = codes[codes < unplaced]
    s, k = np.divmod(placed, n_k)
    lens = np.full(len(codes), len(null), dtype=np.int64)
    lens[: len(placed)] = choices.lens_of(k) + sids.lens_of(s)
    width = int(lens.max(initial=1))
    mat = np.zeros((len(codes), width), dtype=np.uint8)
    flat = mat.reshape(-1)
    pos = np.arange(len(placed), dtype=np.int64) * width
    choices.put(flat, pos, k)
    sids.put(flat, pos + choices.lens_of(k), s)
    if len(placed) < len(codes):
        _const(flat, np.array([len(placed) * width]), null)
    return _Ids(mat, lens, 0, 0), number


def _schools(
    cols: Columns,
    units: _Units,
    orders: _Orders,
    placed_k: np.ndarray,
    held: np.ndarray,
    sch: _Ids,
    names: _Ids,
    heads: _Ids,
) -> bytes:
    """The members of the ``schools`` object, schools by id.

    A school is ``"SID":{"admitted":`` A ``],"waitlist":`` B ``]}``: a list's area (A, B) holds
    its entries ``,"ID"`` and is at least one byte long; ``[`` is written over its first byte
    after the entries (replacing the first entry's comma, or filling an empty list's byte).
    """
    n_s = len(units.school_ids)
    if n_s == 0:  # then there are no applicants either
        return b""
    g_unit, g_k, g_school = orders.g_unit, orders.g_k, orders.g_school
    # (small dtypes for the arrays gathered at random: they stay in the cache)
    pk = placed_k.astype(np.int8) if int(orders.nch.max(initial=0)) < 128 else placed_k
    pk = np.take(pk, g_unit)
    waiting = np.flatnonzero((pk < 0) | (pk > g_k))  # (take beats a boolean mask here)
    del pk
    unit_len = names.all_lens()
    first, size, multi = None, None, None
    if cols.groups:  # a unit's entries are its members'
        first, size = np.asarray(units.name_off), np.asarray(orders.unit_size)
        multi = size > 1
        if unit_len.size:
            unit_len = np.add.reduceat(unit_len, first)
    if int(unit_len.max(initial=0)) < (1 << 16):
        unit_len = unit_len.astype(np.uint16)
    seqs, sizes = [], []  # per list: its units in engine order; each school's bytes
    for at in (held, waiting):
        seq = np.take(g_unit, at)
        nbytes = np.bincount(np.take(g_school, at), weights=unit_len[seq], minlength=n_s)
        seqs.append(seq)
        sizes.append(nbytes.astype(np.int64))
    adm_area = np.maximum(sizes[0], 1)
    wait_area = np.maximum(sizes[1], 1)
    by_id = sch.order()
    sid_len = sch.lens_of(by_id)
    mid = b'],"waitlist":'
    start, total = _offsets([sid_len, adm_area[by_id], len(mid), wait_area[by_id], 3], n_s)
    buf = np.empty(total - 1, dtype=np.uint8)  # the last school has no trailing comma
    pos = start + sid_len
    adm_at = np.empty(n_s, dtype=np.int64)  # list areas, by school number
    adm_at[by_id] = pos
    pos += adm_area[by_id] + len(mid)
    wait_at = np.empty(n_s, dtype=np.int64)
    wait_at[by_id] = pos
    for at, seq, nbytes, area in zip((held, waiting), seqs, sizes, (adm_at, wait_at), strict=True):
        # An entry goes to its running byte sum in engine order (grouped by school number)
        # plus its school's shift: the school's area minus the bytes of the schools before it.
        shift = area - (np.cumsum(nbytes) - nbytes)
        done = 0
        for lo in range(0, len(seq), _ROWS):
            rows = slice(lo, lo + _ROWS)
            u = seq[rows]
            p, n = _offsets([unit_len[u]], len(u))
            p += done
            done += n
            p += shift[np.take(g_school, at[rows])]
            _entries(buf, p, u, heads, names, (first, size, multi))
    del seqs, waiting
    sch.put(buf, start, by_id)
    _const(buf, adm_at, b"[")
    _const(buf, adm_at + adm_area, mid)
    _const(buf, wait_at, b"[")
    _const(buf, wait_at + wait_area, b"]}")
    _const(buf, wait_at[by_id[:-1]] + wait_area[by_id[:-1]] + 2, b",")
    return buf.tobytes()


def _entries(
    buf: np.ndarray,
    pos: np.ndarray,
    units: np.ndarray,
    heads: _Ids,
    names: _Ids,
    groups: tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None],
) -> None:
    """Write the entries ``,"ID"`` of the members of ``units`` at ``pos``, a unit's members one
    after the other: ``heads`` holds each unit's first member; ``groups`` gives each unit's
    first row in ``names``, its member count and whether that is > 1 (None: no groups)."""
    heads.put(buf, pos, units)
    first, size, more = groups
    if first is None or size is None or more is None:
        return
    multi = np.flatnonzero(more[units])
    units = units[multi]
    row, left = first[units], size[units] - 1
    pos = pos[multi] + heads.lens_of(units)
    while row.size:  # member k of the units with more than k, k = 1, 2, ...
        row += 1
        names.put(buf, pos, row)
        pos += names.lens_of(row)
        left -= 1
        rest = np.flatnonzero(left)
        row, pos, left = row[rest], pos[rest], left[rest]
