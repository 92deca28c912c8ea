"""Compiled fast paths of the construct uapi structs: dict of C member names <-> bytes.

:class:`FastStruct` flattens a ``construct`` ``Struct`` (the H.264 / FWHT control structs of
``h264.py`` and ``fwht.py``) into a single :class:`struct.Struct` format and generates plain
Python ``pack``/``pack_into``/``unpack`` functions for it, so a control value dict becomes bytes
in a few microseconds instead of going through construct's interpreter (``construct``'s own
``build`` stays the reference: tests compare both on random values). :func:`pack`,
:func:`pack_into` and :func:`unpack` find a struct's compiled fast path; ``h264.py`` and
``fwht.py`` :func:`register` theirs at import and re-export these functions.

This module knows no particular struct (it imports nothing of the package); the field-offset
listing of ``python -m pyv4l2req.uapi --layout`` is ``layout.py``.
"""

from __future__ import annotations

import copy as _copy
import operator as _operator
import struct as _struct
from typing import Any, Callable

import construct as _c



def _is_scalar(con: Any) -> bool:
    return isinstance(con, _c.FormatField)


def _fields(con: Any) -> list[tuple[str, Any]]:
    """(name, subconstruct) of a construct Struct, in declaration order."""
    out = []
    for sc in con.subcons:
        if not isinstance(sc, _c.Renamed) or not sc.name:
            raise TypeError(f"unnamed member {sc!r}: every member of a uapi struct needs its C name")
        out.append((sc.name, sc.subcon))
    return out


def _format(con: Any, order: list[str]) -> tuple[str, int]:
    """(struct format without byte-order prefix, number of flat values) of a construct."""
    if _is_scalar(con):
        order.append(con.fmtstr[0])
        return con.fmtstr[1:], 1
    if isinstance(con, _c.Array):
        if _is_scalar(con.subcon):
            order.append(con.subcon.fmtstr[0])
            return f"{con.count}{con.subcon.fmtstr[1:]}", con.count
        fmt, n = _format(con.subcon, order)
        return fmt * con.count, n * con.count
    if isinstance(con, _c.Struct):
        parts, total = [], 0
        for _name, sub in _fields(con):
            fmt, n = _format(sub, order)
            parts.append(fmt)
            total += n
        return "".join(parts), total
    raise TypeError(f"unsupported construct {type(con).__name__} in a uapi struct")


def _is_flat_struct(con: Any) -> bool:
    """A struct whose members are all scalars (v4l2_h264_reference)."""
    return isinstance(con, _c.Struct) and all(_is_scalar(sub) for _name, sub in _fields(con))


def _is_array_of_deep_structs(con: Any) -> bool:
    """An array of structs that have arrays inside (dpb[] of decode params): pack_into writes
    it element by element (:meth:`_Gen.into_array_of_structs`)."""
    return isinstance(con, _c.Array) and isinstance(con.subcon, _c.Struct) and not _is_flat_struct(con.subcon)


def _default(con: Any) -> Any:
    if _is_scalar(con):
        return 0
    if isinstance(con, _c.Array):
        return [_default(con.subcon) for _ in range(con.count)]
    return {name: _default(sub) for name, sub in _fields(con)}


def complete(con: Any, values: Any) -> Any:
    """*values* with every missing key set to 0 and short lists zero-padded (construct-buildable)."""
    if _is_scalar(con):
        return 0 if values is None else values
    if isinstance(con, _c.Array):
        values = list(values or ())
        if len(values) > con.count:
            raise ValueError(f"{len(values)} elements for an array of {con.count}")
        return [complete(con.subcon, v) for v in values] + [
            _default(con.subcon) for _ in range(con.count - len(values))
        ]
    values = values or {}
    unknown = set(values) - {name for name, _ in _fields(con)}
    if unknown:
        raise KeyError(f"unknown field(s) {sorted(unknown)}")
    return {name: complete(sub, values.get(name)) for name, sub in _fields(con)}


class _Gen:
    """Source generator for the pack/unpack functions of one struct."""

    def __init__(self, cname: str) -> None:
        self.cname = cname
        self.lines: list[str] = []
        self.n = 0
        self.consts: dict[str, Any] = {}

    def const(self, value: Any) -> str:
        """Name of a constant made available to the generated code."""
        name = self.var("K")
        self.consts[name] = value
        return name

    def members_tuple(self, L: list[str], ind: str, var: str, named: list[str]) -> str:
        """Emit: ``t`` = the values of exactly the members *named* of the plain dict *var*
        (one itemgetter call), else None (another type, a missing or extra key); then open
        ``if t is not None:``. Returns the name of ``t``."""
        getter = self.const(_operator.itemgetter(*named))
        t = self.var("t")
        L.append(f"{ind}try:")
        L.append(f"{ind}    {t} = {getter}({var}) if type({var}) is dict and len({var}) == {len(named)} else None")
        L.append(f"{ind}except (KeyError, TypeError):")
        L.append(f"{ind}    {t} = None")
        L.append(f"{ind}if {t} is not None:")
        return t

    def var(self, prefix: str) -> str:
        self.n += 1
        return f"{prefix}{self.n}"

    # ---- pack: append every flat value to list ``o`` (ap = o.append, ex = o.extend)
    def pack_value(self, con: Any, var: str, path: str, ind: str) -> None:
        L = self.lines
        if _is_scalar(con):
            L.append(f"{ind}ap({var})")
        elif isinstance(con, _c.Array):
            n = con.count
            k = self.var("n")
            L.append(f"{ind}{k} = len({var})")
            L.append(f"{ind}if {k} > {n}: _too_long({path!r}, {k}, {n})")
            if _is_scalar(con.subcon):
                L.append(f"{ind}ex({var})")
                L.append(f"{ind}if {k} < {n}: ex(_Z[:{n} - {k}])")
                L[-4:] = [  # absent array (the common case for reserved[]): one extend of zeros
                    f"{ind}if not {var}: ex(_Z[:{n}])",
                    f"{ind}else:",
                    *("    " + line for line in L[-4:]),
                ]
            elif _is_flat_struct(con.subcon):
                # Array of small structs (ref_pic_list0/1): the same dict object often fills
                # many entries (unused entries of a reference list), so an element that *is*
                # the previous one reuses its values (same object = same values and same key
                # check) instead of being looked up again.
                e, prev, vals = self.var("e"), self.var("p"), self.var("t")
                L.append(f"{ind}{prev} = _NOTHING")
                L.append(f"{ind}for {e} in {var}:")
                L.append(f"{ind}    if {e} is {prev}:")
                L.append(f"{ind}        ex({vals})")
                L.append(f"{ind}        continue")
                keys = self.const(frozenset(name for name, _ in _fields(con.subcon)))
                L.append(f"{ind}    if not {keys}.issuperset({e}): _unknown({path + '[]'!r}, {e}, {keys})")
                g = self.var("g")
                L.append(f"{ind}    {g} = {e}.get")
                items = ", ".join(f"{g}({name!r}, 0)" for name, _ in _fields(con.subcon))
                L.append(f"{ind}    {vals} = ({items},)")
                L.append(f"{ind}    ex({vals})")
                L.append(f"{ind}    {prev} = {e}")
                L.append(f"{ind}if {k} < {n}: ex(_Z[:({n} - {k}) * {len(_fields(con.subcon))}])")
            else:
                # the given elements, then zeros for the missing ones in one slice
                _fmt, per = _format(con.subcon, [])
                e = self.var("e")
                L.append(f"{ind}for {e} in {var}:")
                self.pack_value(con.subcon, e, path + "[]", ind + "    ")
                L.append(f"{ind}if {k} < {n}: ex(_Z[:({n} - {k}) * {per}])")
        else:
            g = self.var("g")
            keys = self.const(frozenset(name for name, _ in _fields(con)))
            L.append(f"{ind}if not {keys}.issuperset({var}): _unknown({path!r}, {var}, {keys})")
            L.append(f"{ind}{g} = {var}.get")
            run: list[str] = []  # consecutive scalar members: one extend of a tuple

            def flush() -> None:
                if run:
                    L.append(f"{ind}ex(({', '.join(run)},))")
                    run.clear()

            for name, sub in _fields(con):
                if _is_scalar(sub):
                    run.append(f"{g}({name!r}, 0)")
                    continue
                flush()
                x = self.var("x")
                empty = "{}" if isinstance(sub, _c.Struct) else "()"
                L.append(f"{ind}{x} = {g}({name!r}) or {empty}")
                self.pack_value(sub, x, f"{path}.{name}", ind)
            flush()

    # ---- pack_into: write the struct at ``buf[off:]`` (a writable bytes-like: memoryview,
    # bytearray), member groups packed with one precompiled struct.Struct.pack_into each.
    # Consecutive members that are scalars or scalar arrays (the common case) become the
    # arguments of one pack_into call; a group holding arrays of small structs or 2-D arrays
    # first collects its flat values in a list with the ``pack`` code above; a nested struct
    # and an array of structs with arrays inside (dpb[] of decode params) are written member
    # by member, element by element, and the elements a short list leaves out are zeroed
    # with one slice assignment. Same values, same checks, same bytes as ``pack``.
    def into_struct(self, con: Any, var: str, path: str, off: str, order: str, ind: str) -> None:
        L = self.lines
        fields = _fields(con)
        named = [name for name, sub in fields if name != "reserved"]
        if len(named) >= 2 and all(_is_scalar(sub) for name, sub in fields if name != "reserved") and all(
                _is_scalar(sub) or (isinstance(sub, _c.Array) and _is_scalar(sub.subcon)) for _name, sub in fields):
            # A struct of scalars (dpb[] entries, the PPS) given as a dict holding exactly its
            # members but "reserved" (what the codec layer makes): one itemgetter call and one
            # pack_into with zero padding for reserved, instead of the key check and a get per
            # member. Any other dict (reserved given, a member missing, an unknown key, not a
            # dict, a dict subclass whose __missing__ could invent a member) takes the general
            # path below, with its checks and errors.
            fmt = "".join(f"{sub.sizeof()}x" if name == "reserved" else _format(sub, [])[0] for name, sub in fields)
            pack_into = self.const(_struct.Struct(order + fmt).pack_into)
            t = self.members_tuple(L, ind, var, named)
            L.append(f"{ind}    {pack_into}(buf, {off}, *{t})")
            L.append(f"{ind}else:")
            ind += "    "
        elif len(named) >= 2 and any(_is_array_of_deep_structs(sub) for _name, sub in fields) and all(
                _is_scalar(sub) or _is_array_of_deep_structs(sub) or name == "reserved" for name, sub in fields):
            # Scalars around arrays of structs (v4l2_ctrl_h264_decode_params: dpb[16], then its
            # header) given as a plain dict with exactly its members but "reserved": one
            # itemgetter call for every member, each run of scalars packed with one pack_into
            # (reserved as zero padding), the arrays as below. Any other dict: the checked path.
            t = self.members_tuple(L, ind, var, named)
            run_fmt: list[str] = []
            run_args: list[str] = []
            run_at = 0
            pos = 0

            def flush_run() -> None:
                if run_args:
                    pack_run = self.const(_struct.Struct(order + "".join(run_fmt)).pack_into)
                    L.append(f"{ind}    {pack_run}(buf, {off} + {run_at}, {', '.join(run_args)})")
                run_fmt.clear()
                run_args.clear()

            for name, sub in fields:
                if _is_array_of_deep_structs(sub) and name != "reserved":
                    flush_run()
                    self.into_array_of_structs(sub, f"{t}[{named.index(name)}]", f"{path}.{name}",
                                               f"{off} + {pos}", order, ind + "    ")
                else:
                    if not run_fmt:
                        run_at = pos
                    if name == "reserved":
                        run_fmt.append(f"{sub.sizeof()}x")
                    else:
                        run_fmt.append(_format(sub, [])[0])
                        run_args.append(f"{t}[{named.index(name)}]")
                pos += sub.sizeof()
            flush_run()
            L.append(f"{ind}else:")
            ind += "    "
        keys = self.const(frozenset(name for name, _ in fields))
        g = self.var("g")
        L.append(f"{ind}if not {keys}.issuperset({var}): _unknown({path!r}, {var}, {keys})")
        L.append(f"{ind}{g} = {var}.get")
        group: list[tuple[str, Any, int]] = []  # (name, construct, offset) of one pack_into

        def flush() -> None:
            if group:
                self.into_group(group, g, path, off, order, ind)
                group.clear()

        pos = 0
        for name, sub in _fields(con):
            size = sub.sizeof()
            if isinstance(sub, _c.Struct):
                flush()
                x = self.var("x")
                L.append(f"{ind}{x} = {g}({name!r}) or {{}}")
                self.into_struct(sub, x, f"{path}.{name}", f"{off} + {pos}", order, ind)
            elif isinstance(sub, _c.Array) and isinstance(sub.subcon, _c.Struct) and not _is_flat_struct(sub.subcon):
                flush()
                self.into_array_of_structs(sub, f"{g}({name!r})", f"{path}.{name}", f"{off} + {pos}", order, ind)
            else:
                group.append((name, sub, pos))
            pos += size
        flush()

    def into_array_of_structs(self, con: Any, value: str, path: str, off: str, order: str, ind: str) -> None:
        L = self.lines
        n, size = con.count, con.subcon.sizeof()
        x, k, p, e = self.var("x"), self.var("n"), self.var("p"), self.var("e")
        L.append(f"{ind}{x} = {value} or ()")
        L.append(f"{ind}{k} = len({x})")
        L.append(f"{ind}if {k} > {n}: _too_long({path!r}, {k}, {n})")
        L.append(f"{ind}{p} = {off}")
        L.append(f"{ind}for {e} in {x}:")
        self.into_struct(con.subcon, e, path + "[]", p, order, ind + "    ")
        L.append(f"{ind}    {p} += {size}")
        L.append(f"{ind}if {k} < {n}: buf[{p}:{p} + ({n} - {k}) * {size}] = _ZB[:({n} - {k}) * {size}]")

    def into_group(self, group: list[tuple[str, Any, int]], g: str, path: str, off: str, order: str,
                   ind: str) -> None:
        L = self.lines
        fmt = "".join(_format(sub, [])[0] for _name, sub, _pos in group)
        pack_into = self.const(_struct.Struct(order + fmt).pack_into)
        at = f"{off} + {group[0][2]}" if group[0][2] else off
        direct = all(_is_scalar(sub) or (isinstance(sub, _c.Array) and _is_scalar(sub.subcon))
                     for _name, sub, _pos in group)
        if not direct:  # collect the flat values like pack() does
            L += [f"{ind}o = []", f"{ind}ap = o.append", f"{ind}ex = o.extend"]
            run: list[str] = []
            for name, sub, _pos in group:
                if _is_scalar(sub):
                    run.append(f"{g}({name!r}, 0)")
                    continue
                if run:
                    L.append(f"{ind}ex(({', '.join(run)},))")
                    run.clear()
                x = self.var("x")
                L.append(f"{ind}{x} = {g}({name!r}) or ()")
                self.pack_value(sub, x, f"{path}.{name}", ind)
            if run:
                L.append(f"{ind}ex(({', '.join(run)},))")
            L.append(f"{ind}{pack_into}(buf, {at}, *o)")
            return
        args = []
        for name, sub, _pos in group:
            if _is_scalar(sub):
                args.append(f"{g}({name!r}, 0)")
                continue
            n = sub.count
            x = self.var("x")
            L.append(f"{ind}{x} = {g}({name!r})")
            L.append(f"{ind}if not {x}: {x} = {self.const((0,) * n)}")
            L.append(f"{ind}elif len({x}) != {n}: {x} = _fit({x}, {n}, {path + '.' + name!r})")
            args.append(f"*{x}")
        L.append(f"{ind}{pack_into}(buf, {at}, {', '.join(args)})")

    # ---- unpack: an expression over tuple ``t`` starting at flat index expression ``off``
    def unpack_expr(self, con: Any, off: str) -> tuple[str, int]:
        _fmt, count = _format(con, [])
        if _is_scalar(con):
            return f"t[{off}]", 1
        if isinstance(con, _c.Array):
            if _is_scalar(con.subcon):
                return f"list(t[{off}:{off}+{con.count}])", con.count
            o = self.var("o")
            inner, step = self.unpack_expr(con.subcon, o)
            return f"[{inner} for {o} in range({off}, {off}+{step * con.count}, {step})]", count
        items, pos = [], 0
        for name, sub in _fields(con):
            expr, n = self.unpack_expr(sub, f"{off}+{pos}" if pos else off)
            items.append(f"{name!r}: {expr}")
            pos += n
        return "{" + ", ".join(items) + "}", count


def _too_long(path: str, got: int, n: int) -> None:
    raise ValueError(f"{path}: {got} elements for an array of {n}")


def _fit(values: Any, n: int, path: str) -> list:
    """A scalar array of the wrong length: zero-padded, or ValueError if too long."""
    if len(values) > n:
        _too_long(path, len(values), n)
    return [*values, *(0,) * (n - len(values))]


def _unknown(path: str, values: Any, known: frozenset) -> None:
    if not isinstance(values, dict):
        raise TypeError(f"{path}: expected a dict of C member names, got {type(values).__name__}")
    raise KeyError(f"{path}: unknown member(s) {sorted(set(values) - known)}; members are {sorted(known)}")


class FastStruct:
    """A construct ``Struct`` compiled to one :class:`struct.Struct` plus generated pack/unpack.

    ``pack(values)``: dict keyed by C field names (nested dicts / lists), missing keys are 0,
    short lists are zero-padded, too long lists raise ``ValueError``, unknown keys ``KeyError``.
    ``pack_into(buf, offset, values)``: the same bytes written into ``buf[offset:offset+size]``
    (a writable memoryview or bytearray), for payloads that are reused for every call; on an
    error the bytes already written stay.
    ``unpack(data)``: the full dict.
    """

    def __init__(self, con: Any, cname: str) -> None:
        order: list[str] = []
        fmt, count = _format(con, order)
        if len(set(order)) > 1:
            raise TypeError(f"{cname}: mixed byte orders {set(order)}")
        self.construct = con
        self.cname = cname
        self.struct = _struct.Struct((order[0] if order else "<") + fmt)
        self.size = self.struct.size
        self.count = count
        if self.size != con.sizeof():
            raise AssertionError(f"{cname}: struct size {self.size} != construct size {con.sizeof()}")

        g = _Gen(cname)
        g.lines += ["def pack(v):", "    o = []", "    ap = o.append", "    ex = o.extend"]
        g.pack_value(con, "v", cname, "    ")
        g.lines += ["    try:", "        return _pack(*o)", "    except _error as exc:", "        _fail(v, exc)"]
        if isinstance(con, _c.Struct):
            g.lines += ["def pack_into(buf, off, v):", "    try:"]
            g.into_struct(con, "v", cname, "off", order[0] if order else "<", "        ")
            g.lines += ["    except _error as exc:", "        _fail(v, exc)"]
        else:
            g.lines += ["def pack_into(buf, off, v):", f"    buf[off:off + {self.size}] = pack(v)"]
        expr, _n = g.unpack_expr(con, "0")
        g.lines += [
            "def unpack(data):",
            f"    if len(data) != {self.size}:",
            f"        raise ValueError(f'{cname}: {{len(data)}} bytes, expected {self.size}')",
            "    t = _unpack(data)",
            f"    return {expr}",
        ]
        self.source = "\n".join(g.lines)
        ns: dict[str, Any] = {
            "_pack": self.struct.pack,
            "_unpack": self.struct.unpack,
            "_error": _struct.error,
            "_Z": (0,) * 65536,
            "_ZB": memoryview(bytes(self.size)),
            "_too_long": _too_long,
            "_fit": _fit,
            "_NOTHING": object(),  # "no previous element" (None is an element, a wrong one)
            "_unknown": _unknown,
            **g.consts,
            "_fail": self._fail,
        }
        exec(compile(self.source, f"<pack {cname}>", "exec"), ns)  # noqa: S102 - generated above
        self.pack: Callable[[dict], bytes] = ns["pack"]
        self.pack_into: Callable[[Any, int, dict], None] = ns["pack_into"]
        self.unpack: Callable[[bytes], dict] = ns["unpack"]

    def _fail(self, values: dict, exc: Exception) -> None:
        """Turn struct.error into a message naming the field (slow path, errors only)."""
        try:
            self.construct.build(complete(self.construct, values))
        except Exception as e:  # construct names the path of the failing field
            raise ValueError(f"{self.cname}: {e}") from None
        raise ValueError(f"{self.cname}: {exc}") from None

    def build_reference(self, values: dict) -> bytes:
        """construct's own ``build`` of *values* (missing keys 0): the reference for tests."""
        return self.construct.build(complete(self.construct, values))


# ============================================================ pack / unpack by struct

_FAST: dict[int, FastStruct] = {}
_KEEP: list[Any] = []  # the registered structs, so that their ids stay unique


def register(structs: dict[str, Any]) -> None:
    """Compile the fast path of each ``{c_name: construct struct}`` once."""
    for cname, con in structs.items():
        if id(con) not in _FAST:
            _FAST[id(con)] = FastStruct(con, cname)
            _KEEP.append(con)


def fast(struct: Any) -> FastStruct:
    """The compiled fast path of a construct struct (compiled on first use if unregistered)."""
    f = _FAST.get(id(struct))
    if f is None:
        register({"struct": struct})
        f = _FAST[id(struct)]
    return f


def pack(struct: Any, values: dict) -> bytes:
    """Bytes of a construct uapi struct from a dict keyed by C member names.

    Missing keys are 0, short lists are zero-padded (nested dicts for nested structs, lists of
    lists for 2-D arrays); a too long list or an out-of-range value raises ``ValueError`` and an
    unknown key ``KeyError``, both naming the struct and member path.
    """
    f = _FAST.get(id(struct)) or fast(struct)
    return f.pack(values)


class PackCache:
    """:func:`pack` for control values that rarely change (SPS, PPS, scaling matrix: per
    sequence, not per picture).

    The bytes of the last value packed for each struct are kept with a copy of that value; a
    value equal to it (``==``, so ``1`` and ``True`` count as equal, as they pack the same) is
    not packed again. Comparing the SPS dict costs ~8x less than packing its 1048 bytes.
    Values that change every picture (decode params, slice params) should use :func:`pack`.
    """

    def __init__(self) -> None:
        self._last: dict[int, tuple[Any, bytes]] = {}

    def pack(self, struct: Any, values: dict) -> bytes:
        """Same result as ``pack(struct, values)``."""
        last = self._last.get(id(struct))
        if last is not None and last[0] == values:
            return last[1]
        data = pack(struct, values)  # registers the struct: its id stays unique (_KEEP)
        self._last[id(struct)] = (_copy.deepcopy(values), data)
        return data

    def clear(self) -> None:
        self._last.clear()


def pack_into(struct: Any, buf: Any, offset: int, values: dict) -> None:
    """:func:`pack` written into ``buf[offset:offset + sizeof]`` (a writable memoryview or
    bytearray, e.g. a control payload that is reused for every request)."""
    f = _FAST.get(id(struct)) or fast(struct)
    f.pack_into(buf, offset, values)


def unpack(struct: Any, data: bytes) -> dict:
    """The full dict (nested dicts and lists) of a construct uapi struct from ``sizeof`` bytes."""
    f = _FAST.get(id(struct)) or fast(struct)
    return f.unpack(data)
