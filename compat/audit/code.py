"""Python, JavaScript and TypeScript: one Tree-sitter parse and one query pass per file.

The query captures the syntax that can carry an integration point (imports, calls, member
chains, subscripts, comparisons, switch cases, declarations, TypeScript type names); comments
and plain strings are never captured, so a vendor name there is not a finding. Each capture
is reduced to a dotted chain (`client.video.v1.rooms(sid).recordings.list()` ->
`client video v1 rooms recordings list`), its root resolved through the file's imports, and
looked up in the tables of :mod:`compat.audit.knowledge`.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator
from typing import Final

import attrs
import tree_sitter as ts
import tree_sitter_javascript
import tree_sitter_python
import tree_sitter_typescript

from . import knowledge as K
from .model import Finding

_JS_COMMON = """
(import_statement) @import
(variable_declarator) @declare
(call_expression) @call
(new_expression) @call
(member_expression) @member
(subscript_expression) @subscript
(binary_expression) @compare
(switch_case) @case
"""
QUERIES: Final[dict[str, str]] = {
    "python": """
(import_statement) @import
(import_from_statement) @import
(call) @call
(attribute) @member
(subscript) @subscript
(comparison_operator) @compare
""",
    "javascript": _JS_COMMON,
    "typescript": _JS_COMMON + "(type_identifier) @type\n",
    "tsx": _JS_COMMON + "(type_identifier) @type\n",
}
_LANGUAGES: Final = {
    "python": tree_sitter_python.language,
    "javascript": tree_sitter_javascript.language,
    "typescript": tree_sitter_typescript.language_typescript,
    "tsx": tree_sitter_typescript.language_tsx,
}

# A file that matches none of these cannot hold a finding (every rule needs a vendor import,
# a browser global, a webhook field/event or a credential name), so it is not parsed.
_TRIGGER_WORDS = [K.VENDOR_WORD.pattern.removeprefix("(?i)"), r"\bOT\b",
                  *map(re.escape, [*K.WEBHOOK_FIELDS, *K.WEBHOOK_EVENTS, *K.SIGNATURE_HEADERS])]
TRIGGER: Final = re.compile(("(?i)" + "|".join(_TRIGGER_WORDS)).encode())

_MEMBER = frozenset({"attribute", "member_expression"})
_CALL = frozenset({"call", "call_expression", "new_expression"})
_SUBSCRIPT = frozenset({"subscript", "subscript_expression"})
_WRAPPER = frozenset({"parenthesized_expression", "non_null_expression", "await_expression", "as_expression"})
_NAME = frozenset({"identifier", "this", "property_identifier", "type_identifier", "private_property_identifier"})
_FUNCTION = frozenset({"function_definition", "function_declaration", "arrow_function", "function_expression",
                       "lambda", "method_definition", "function"})
_EQUALITY = frozenset({"==", "===", "!=", "!==", "in", "not in"})


@functools.cache
def parser_for(language: str) -> tuple[ts.Parser, ts.Query]:
    lang = ts.Language(_LANGUAGES[language]())
    return ts.Parser(lang), ts.Query(lang, QUERIES[language])


def _text(node: ts.Node | None) -> str:
    return node.text.decode("utf-8", "replace") if node is not None and node.text is not None else ""


def _field(node: ts.Node, name: str) -> ts.Node | None:
    return node.child_by_field_name(name)


def _string(node: ts.Node | None) -> str | None:
    """The value of a plain string literal (no interpolation), else None."""
    if node is None or node.type != "string":
        return None
    parts = []
    for child in node.named_children:
        if child.type in ("string_content", "string_fragment"):
            parts.append(_text(child))
        elif child.type not in ("string_start", "string_end", "escape_sequence"):
            return None
    return "".join(parts)


def _number(node: ts.Node | None) -> int | None:
    if node is None or node.type not in ("integer", "number"):
        return None
    try:
        return int(_text(node))
    except ValueError:  # a float or a hex literal: no error code
        return None


def _arguments(call: ts.Node) -> list[ts.Node]:
    args = _field(call, "arguments")
    return [a for a in args.named_children if a.type != "comment"] if args is not None else []


def _module_call(call: ts.Node) -> str | None:
    """`require('x')` / `import('x')` -> 'x'."""
    fn = _field(call, "function")
    if fn is None or fn.type not in ("identifier", "import") or _text(fn) not in ("require", "import"):
        return None
    args = _arguments(call)
    return _string(args[0]) if len(args) == 1 else None


@attrs.frozen
class Chain:
    segments: tuple[str, ...]
    resolved: bool  # the root is a module (through an import, a require or a browser global)


def _raw_chain(node: ts.Node) -> Chain:
    segs: list[str] = []
    while True:
        kind = node.type
        if kind in _MEMBER:
            segs.append(_text(_field(node, "attribute") or _field(node, "property")))
            nxt = _field(node, "object")
        elif kind in _CALL:
            module = _module_call(node) if kind == "call_expression" else None
            if module is not None:
                segs.append(module)
                return Chain(tuple(reversed(segs)), True)
            nxt = _field(node, "function") or _field(node, "constructor")
        elif kind in _SUBSCRIPT:
            nxt = _field(node, "value") or _field(node, "object")
        elif kind in _WRAPPER:
            nxt = node.named_children[0] if node.named_children else None
        elif kind in _NAME:
            segs.append(_text(node))
            nxt = None
        else:
            segs.append("?")
            nxt = None
        if nxt is None:
            return Chain(tuple(reversed(segs)), False)
        node = nxt


@attrs.define
class _File:
    """What one file's captures add up to."""

    language: str
    path: str
    bindings: dict[str, tuple[str, ...]] = attrs.Factory(dict)
    families: set[str] = attrs.Factory(set)
    scheduled: set[str] = attrs.Factory(set)  # names of functions handed to a scheduler
    found: dict[tuple[int, str, str], Finding] = attrs.Factory(dict)

    def add(self, node: ts.Node, category: str, vendor: str, api: str, offer: str, note: str = "") -> None:
        line = node.start_point[0] + 1
        key = (line, category, api)
        if key not in self.found:
            self.found[key] = Finding(self.path, line, category, vendor, api, offer, note)

    def resolve(self, chain: Chain) -> Chain:
        if chain.resolved or not chain.segments:
            return chain
        root, rest = chain.segments[0], chain.segments[1:]
        if root in self.bindings:
            return Chain(self.bindings[root] + rest, True)
        if self.language != "python":
            for prefix, module in K.GLOBAL_ROOTS.items():
                if chain.segments[: len(prefix)] == prefix:
                    return Chain((module, *chain.segments[len(prefix):]), True)
        return chain

    def use_module(self, module: str) -> None:
        for name, family in K.MODULE_FAMILIES.items():
            if module == name or (self.language == "python" and module.startswith(name + ".")):
                self.families.add(family)


# -- rule index --------------------------------------------------------------------------------


def _expand(pattern: str) -> Iterator[tuple[str, ...]]:
    """'video.v1?.rooms.create' -> ('video','v1','rooms','create'), ('video','rooms','create')."""
    variants: list[tuple[str, ...]] = [()]
    for seg in pattern.split("."):
        if seg.endswith("?"):
            variants = [(*v, seg[:-1]) for v in variants] + variants
        else:
            variants = [(*v, seg) for v in variants]
    yield from variants


@functools.cache
def _rule_index() -> dict[str, list[tuple[tuple[str, ...], int, K.CodeRule]]]:
    index: dict[str, list[tuple[tuple[str, ...], int, K.CodeRule]]] = {}
    for order, rule in enumerate(K.CODE_RULES):
        for segs in _expand(rule.pattern):
            index.setdefault(segs[-1], []).append((segs, order, rule))
    return index


def match_rule(segments: tuple[str, ...], families: set[str]) -> K.CodeRule | None:
    """The rule whose pattern appears furthest along the chain, then the longest, then the first in the table.

    Furthest: `rooms(sid).recordings.list` is about recordings, `AccessToken.VideoGrant` a grant."""
    best: tuple[int, int, int, K.CodeRule] | None = None
    index = _rule_index()
    for end, seg in enumerate(segments, 1):
        for pattern, order, rule in index.get(seg, ()):
            n = len(pattern)
            if n > end or segments[end - n:end] != pattern or families.isdisjoint(rule.families):
                continue
            if best is None or (end, n, -order) > best[:3]:
                best = (end, n, -order, rule)
    return best[3] if best else None


def _vendor(families: Iterable[str]) -> str:
    return next((K.FAMILY_VENDOR[f] for f in sorted(families) if f in K.FAMILY_VENDOR), "")


# -- per-capture handlers -----------------------------------------------------------------------


def _imports(f: _File, node: ts.Node) -> None:
    if f.language == "python":
        _python_import(f, node)
        return
    module = _string(_field(node, "source"))
    if module is None:
        return
    _import_found(f, node, module)
    clause = next((c for c in node.named_children if c.type == "import_clause"), None)
    for child in clause.named_children if clause is not None else ():
        if child.type == "identifier":  # default import
            f.bindings[_text(child)] = (module,)
        elif child.type == "namespace_import":
            f.bindings[_text(child.named_children[-1])] = (module,)
        elif child.type == "named_imports":
            for spec in child.named_children:
                name, alias = _field(spec, "name"), _field(spec, "alias")
                if name is not None:
                    f.bindings[_text(alias or name)] = (module, _text(name))


def _python_import(f: _File, node: ts.Node) -> None:
    base: tuple[str, ...] = ()
    if node.type == "import_from_statement":
        module = _text(_field(node, "module_name"))
        if module.startswith("."):
            return
        base = tuple(module.split("."))
        _import_found(f, node, module)
    for name_node in node.children_by_field_name("name"):
        target = _field(name_node, "name") if name_node.type == "aliased_import" else name_node
        alias = _field(name_node, "alias") if name_node.type == "aliased_import" else None
        dotted = tuple(_text(target).split("."))
        if not base:
            _import_found(f, node, ".".join(dotted))
        full = base + dotted
        if alias is not None:
            f.bindings[_text(alias)] = full
        else:
            f.bindings[dotted[0]] = full if base else dotted[:1]


def _import_found(f: _File, node: ts.Node, module: str) -> None:
    f.use_module(module)
    top = module if module in K.IMPORTS else module.split(".")[0]
    if top in K.IMPORTS:
        category, offer = K.IMPORTS[top]
        family = K.MODULE_FAMILIES[top]
        f.add(node, category, K.FAMILY_VENDOR[family], f"import {module}", offer)


def _declare(f: _File, node: ts.Node) -> None:
    """`const V = require('twilio-video')`, `const { connect } = …`, `const G = AccessToken.VideoGrant`."""
    value, name = _field(node, "value"), _field(node, "name")
    if value is None or name is None:
        return
    chain = f.resolve(_raw_chain(value))
    if not chain.resolved or (value.type in _CALL and _module_call(value) is None):
        return
    if name.type == "identifier":
        f.bindings[_text(name)] = chain.segments
    elif name.type == "object_pattern":
        for prop in name.named_children:
            if prop.type == "shorthand_property_identifier_pattern":
                f.bindings[_text(prop)] = (*chain.segments, _text(prop))
            elif prop.type == "pair_pattern":
                key, val = _field(prop, "key"), _field(prop, "value")
                if key is not None and val is not None and val.type == "identifier":
                    f.bindings[_text(val)] = (*chain.segments, _text(key))


def _classify_key(f: _File, node: ts.Node, key: str) -> None:
    """A key read by a handler or from the environment: webhook field, signature header, credential."""
    if key in K.WEBHOOK_FIELDS:
        f.add(node, "webhook-handler", K.WEBHOOK_FIELDS[key], f"status callback field {key}", "webhook")
    elif key.lower() in K.SIGNATURE_HEADERS:
        f.add(node, "webhook-signature", K.SIGNATURE_HEADERS[key.lower()], f"header {key}", "webhook-signature")
    elif "_" in key and K.CREDENTIAL.fullmatch(key):
        vendor = K.TWILIO if key.lower().startswith("twilio") else K.VONAGE
        f.add(node, "credentials", vendor, key, "credentials")


def _chain_found(f: _File, node: ts.Node, chain: Chain) -> None:
    rule = match_rule(chain.segments, f.families)
    if rule is not None:
        category, note = rule.category, ""
        if rule.query and _in_scheduled_job(f, node):
            category, note = "scheduled-job", "session query in a scheduled job"
        f.add(node, category, _vendor(rule.families), rule.api, rule.offer, note)
    for seg in chain.segments:
        _classify_key(f, node, seg)


def _call(f: _File, node: ts.Node) -> None:
    callee = _field(node, "function") or _field(node, "constructor")
    if callee is None:
        return
    chain = f.resolve(_raw_chain(callee))
    _chain_found(f, node, chain)
    last = chain.segments[-1] if chain.segments else ""
    args = _arguments(node)
    first = _string(args[0]) if args else None
    if first is None:
        return
    if last in K.KEY_CALLS or last == "getenv":
        _classify_key(f, node, first)
    elif last in K.EVENT_METHODS:
        _event(f, node, first)


def _event(f: _File, node: ts.Node, name: str) -> None:
    key = "signal" if name.startswith("signal:") else name
    for family in sorted(f.families):
        hit = K.EVENTS.get(family, {}).get(key)
        if hit is not None:
            f.add(node, hit[0], K.FAMILY_VENDOR[family], f"event '{name}'", hit[1])
            return


def _member(f: _File, node: ts.Node) -> None:
    parent = node.parent
    if parent is not None:
        if parent.type in _MEMBER and _field(parent, "object") == node:
            return  # not the outermost member: the outer one carries the whole chain
        if parent.type in _CALL and (_field(parent, "function") or _field(parent, "constructor")) == node:
            return  # a callee: handled with its call
    _chain_found(f, node, f.resolve(_raw_chain(node)))


def _subscript(f: _File, node: ts.Node) -> None:
    key = _string(_field(node, "subscript") or _field(node, "index"))
    if key is not None:
        _classify_key(f, node, key)


def _operands(node: ts.Node) -> list[ts.Node]:
    if node.type == "comparison_operator":
        ops = [_text(c) for c in node.children if not c.is_named]
        return node.named_children if any(op in _EQUALITY for op in ops) else []
    operator = _text(_field(node, "operator"))
    if operator not in _EQUALITY:
        return []
    return [n for n in (_field(node, "left"), _field(node, "right")) if n is not None]


def _compare(f: _File, node: ts.Node) -> None:
    operands = _operands(node)
    for i, operand in enumerate(operands):
        others = operands[:i] + operands[i + 1:]
        fields = {_raw_chain(o).segments[-1] for o in others if o.type in _MEMBER | _SUBSCRIPT | _NAME}
        values = operand.named_children if operand.type in ("tuple", "list", "set", "array") else [operand]
        for value in values:
            _value(f, node, value, fields)


def _case(f: _File, node: ts.Node) -> None:
    switch = node.parent.parent if node.parent is not None else None
    subject = _field(switch, "value") if switch is not None else None
    fields = {_raw_chain(subject).segments[-1]} if subject is not None else set()
    value = _field(node, "value")
    if value is not None:
        _value(f, node, value, fields)


def _value(f: _File, node: ts.Node, value: ts.Node, fields: set[str]) -> None:
    """A literal compared with something: a webhook event, an OT_* error name, a vendor error code."""
    text = _string(value)
    if text is not None:
        if text in K.WEBHOOK_EVENTS:
            vendor, livekit = K.WEBHOOK_EVENTS[text]
            f.add(node, "webhook-handler", vendor, f"event '{text}'", "webhook", f"LiveKit webhook event {livekit}")
        elif K.OPENTOK_ERROR_NAME.fullmatch(text):
            f.add(node, "error-codes", K.VONAGE, f"error name {text}", "opentok-errors")
        return
    code = _number(value)
    if code is None or fields.isdisjoint(K.ERROR_FIELDS):
        return
    twilio = f.families & {"twilio-client", "twilio-server"}
    if twilio and any(lo <= code <= hi for lo, hi in K.TWILIO_ERROR_RANGES):
        f.add(node, "error-codes", K.TWILIO, f"error code {code}", "twilio-errors")
    elif (f.families - twilio) and code in K.OPENTOK_ERROR_CODES:
        f.add(node, "error-codes", K.VONAGE, f"error code {code}", "opentok-errors")


def _type(f: _File, node: ts.Node) -> None:
    name = _text(node)
    target = f.bindings.get(name)
    if target and target[0] in K.TYPE_CATEGORY:
        category, offer = K.TYPE_CATEGORY[target[0]]
        vendor = K.FAMILY_VENDOR[K.MODULE_FAMILIES[target[0]]]
        f.add(node, category, vendor, f"type {'.'.join(target[1:]) or name}", offer)


# -- scheduled jobs ----------------------------------------------------------------------------


def _scheduler_call(f: _File, node: ts.Node) -> None:
    """Remember functions handed to a scheduler by name (`schedule.every(5).minutes.do(poll)`)."""
    callee = _field(node, "function") or _field(node, "constructor")
    if callee is None or _raw_chain(callee).segments[-1] not in K.SCHEDULER_CALLS:
        return
    for arg in _arguments(node):
        if arg.type == "identifier":
            f.scheduled.add(_text(arg))


def _in_scheduled_job(f: _File, node: ts.Node) -> bool:
    current = node.parent
    while current is not None:
        if current.type in _FUNCTION and _is_scheduled(f, current):
            return True
        current = current.parent
    return False


def _is_scheduled(f: _File, function: ts.Node) -> bool:
    name = _field(function, "name")
    if name is not None and _text(name) in f.scheduled:
        return True
    parent = function.parent
    if parent is not None and parent.type == "decorated_definition":
        for decorator in parent.named_children:
            if decorator.type == "decorator" and decorator.named_children and not K.SCHEDULER_DECORATORS.isdisjoint(
                _raw_chain(decorator.named_children[0]).segments
            ):
                return True
    if parent is not None and parent.type in ("arguments", "argument_list") and parent.parent is not None:
        callee = _field(parent.parent, "function") or _field(parent.parent, "constructor")
        return callee is not None and _raw_chain(callee).segments[-1] in K.SCHEDULER_CALLS
    return False


# -- entry point --------------------------------------------------------------------------------

_HANDLERS: Final = {"call": _call, "member": _member, "subscript": _subscript, "compare": _compare, "case": _case,
                    "type": _type}


def scan_code(path: str, language: str, source: bytes) -> list[Finding]:
    """Findings of one source file (`path` is only used to label them)."""
    if not TRIGGER.search(source):
        return []
    parser, query = parser_for(language)
    tree = parser.parse(source)
    captures = ts.QueryCursor(query).captures(tree.root_node)
    f = _File(language, path)
    # Bindings and families first, whatever their position in the file.
    for node in captures.get("import", ()):
        _imports(f, node)
    for node in captures.get("call", ()):
        module = _module_call(node) if node.type == "call_expression" else None
        if module is not None:
            _import_found(f, node, module)
        _scheduler_call(f, node)
    # In source order: `const G = AccessToken.VideoGrant` needs `AccessToken` bound first
    # (a capture list is not in source order).
    for node in sorted(captures.get("declare", ()), key=lambda n: n.start_byte):
        _declare(f, node)
    _global_families(f, captures.get("member", ()))
    for name, handler in _HANDLERS.items():
        for node in captures.get(name, ()):
            handler(f, node)
    return sorted(f.found.values())


def _global_families(f: _File, members: Iterable[ts.Node]) -> None:
    """A browser global (`OT.initSession`) puts its family in the file even without an import."""
    if f.language == "python":
        return
    roots = {prefix[0]: prefix for prefix in K.GLOBAL_ROOTS}
    for node in members:
        obj = _field(node, "object")
        if obj is not None and obj.type == "identifier" and _text(obj) in roots and _text(obj) not in f.bindings:
            chain = f.resolve(_raw_chain(node))
            if chain.resolved:
                f.use_module(chain.segments[0])
