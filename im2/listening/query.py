"""Boolean topic queries: a tokenizer, a recursive-descent parser and a compiled matcher.

Grammar (operators in capitals, as in Brandwatch and Talkwalker, so that the lower-case words
"and", "or", "not" can still be searched for)::

    query   := or
    or      := and ("OR" and)*
    and     := unary (["AND"] unary)*          adjacent terms mean AND
    unary   := ("NOT" | "-") unary | primary
    primary := "(" or ")" | [field ":"] (word | "phrase")

Fields: ``text`` (the default), ``author``, ``platform``, ``lang``, ``sentiment``. A word ending
in ``*`` matches as a prefix. Latin words match whole words (``apple`` does not match
"pineapple"); Chinese has no spaces, so Chinese terms match as substrings. Matching ignores case.
Errors name the position (0-based character offset) where the query stops making sense.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from im2.i18n import _

MAX_QUERY_LENGTH: Final = 2000
# Parentheses and NOT / "-" nest; real queries go a few levels deep. The parser recurses per
# level, so a limit keeps a pathological query an error rather than a crash.
MAX_DEPTH: Final = 50


class QueryField(StrEnum):
    TEXT = "text"
    AUTHOR = "author"
    PLATFORM = "platform"
    LANG = "lang"
    SENTIMENT = "sentiment"


FIELD_ALIASES: Final = {"language": QueryField.LANG, "title": QueryField.TEXT}


@dataclass(frozen=True, slots=True)
class MentionFields:
    """What a query sees of a mention; `text` and `author` already lower-cased."""

    text: str
    author: str
    platform: str
    lang: str
    sentiment: str


class QueryError(ValueError):
    def __init__(self, message: str, position: int) -> None:
        super().__init__(message)
        self.message = message
        self.position = position


# --- tokens -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # LPAREN RPAREN AND OR NOT MINUS TERM PHRASE END
    value: str
    position: int
    field: QueryField | None = None


_WORD_CHARS = re.compile(r'[^\s()"]+')


def _tokenize(query: str) -> list[_Token]:
    tokens: list[_Token] = []
    i = 0
    n = len(query)
    while i < n:
        ch = query[i]
        if ch.isspace():
            i += 1
            continue
        if ch == "(":
            tokens.append(_Token("LPAREN", ch, i))
            i += 1
            continue
        if ch == ")":
            tokens.append(_Token("RPAREN", ch, i))
            i += 1
            continue
        if ch == "-" and i + 1 < n and not query[i + 1].isspace():
            tokens.append(_Token("MINUS", ch, i))
            i += 1
            continue
        start = i
        field: QueryField | None = None
        word = _WORD_CHARS.match(query, i)
        if word and ":" in word.group():
            name, _sep, _rest = word.group().partition(":")
            field = _field(name, start)
            i += len(name) + 1
        if i < n and query[i] == '"':
            end = query.find('"', i + 1)
            if end < 0:
                raise QueryError(_("The quote opened here is never closed."), i)
            phrase = query[i + 1 : end].strip()
            if not phrase:
                raise QueryError(_("The quotes are empty."), i)
            tokens.append(_Token("PHRASE", phrase, start, field))
            i = end + 1
            continue
        word = _WORD_CHARS.match(query, i)
        if word is None:
            raise QueryError(_("A search word is missing after the field name."), i)
        text = word.group()
        i = word.end()
        if field is None and text in ("AND", "OR", "NOT"):
            tokens.append(_Token(text, text, start))
        else:
            tokens.append(_Token("TERM", text, start, field))
    tokens.append(_Token("END", "", n))
    return tokens


def _field(name: str, position: int) -> QueryField:
    key = name.lower()
    if key in FIELD_ALIASES:
        return FIELD_ALIASES[key]
    try:
        return QueryField(key)
    except ValueError:
        raise QueryError(
            _("Unknown field “{name}”; use text, author, platform, lang or sentiment.").format(
                name=name
            ),
            position,
        ) from None


# --- syntax tree --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Term:
    field: QueryField
    value: str
    phrase: bool


@dataclass(frozen=True, slots=True)
class Not:
    operand: Node


@dataclass(frozen=True, slots=True)
class And:
    operands: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or:
    operands: tuple[Node, ...]


Node = Term | Not | And | Or


class _Parser:
    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens = tokens
        self.i = 0
        self.depth = 0

    def enter(self, token: _Token) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise QueryError(
                _("The query nests more than {n} levels deep here.").format(n=MAX_DEPTH),
                token.position,
            )

    def peek(self) -> _Token:
        return self.tokens[self.i]

    def take(self) -> _Token:
        token = self.tokens[self.i]
        self.i += 1
        return token

    def parse(self) -> Node:
        if self.peek().kind == "END":
            raise QueryError(_("The query is empty."), 0)
        node = self.parse_or()
        token = self.peek()
        if token.kind == "RPAREN":
            raise QueryError(_("This closing parenthesis has no opening one."), token.position)
        if token.kind != "END":
            raise QueryError(_("Unexpected “{text}”.").format(text=token.value), token.position)
        return node

    def parse_or(self) -> Node:
        operands = [self.parse_and()]
        while self.peek().kind == "OR":
            self.take()
            operands.append(self.parse_and())
        return operands[0] if len(operands) == 1 else Or(tuple(operands))

    def parse_and(self) -> Node:
        operands = [self.parse_unary()]
        while True:
            kind = self.peek().kind
            if kind == "AND":
                self.take()
            elif kind not in ("TERM", "PHRASE", "LPAREN", "NOT", "MINUS"):
                break
            operands.append(self.parse_unary())
        return operands[0] if len(operands) == 1 else And(tuple(operands))

    def parse_unary(self) -> Node:
        token = self.peek()
        if token.kind in ("NOT", "MINUS"):
            self.take()
            self.enter(token)
            node = Not(self.parse_unary())
            self.depth -= 1
            return node
        return self.parse_primary()

    def parse_primary(self) -> Node:
        token = self.take()
        if token.kind == "LPAREN":
            if self.peek().kind == "RPAREN":
                raise QueryError(_("The parentheses are empty."), token.position)
            self.enter(token)
            node = self.parse_or()
            if self.peek().kind != "RPAREN":
                raise QueryError(_("The parenthesis opened here is never closed."), token.position)
            self.take()
            self.depth -= 1
            return node
        if token.kind in ("TERM", "PHRASE"):
            return Term(token.field or QueryField.TEXT, token.value.lower(), token.kind == "PHRASE")
        if token.kind == "END":
            raise QueryError(_("The query ends where a search word was expected."), token.position)
        if token.kind == "RPAREN":
            raise QueryError(_("This closing parenthesis has no opening one."), token.position)
        raise QueryError(
            _("“{op}” needs a search word before and after it.").format(op=token.value),
            token.position,
        )


def parse_query(query: str) -> Node:
    if len(query) > MAX_QUERY_LENGTH:
        raise QueryError(
            _("A query can have at most {n} characters.").format(n=MAX_QUERY_LENGTH),
            MAX_QUERY_LENGTH,
        )
    node = _Parser(_tokenize(query)).parse()
    if _only_excludes(node):
        raise QueryError(_("A query cannot only exclude; say what to look for as well."), 0)
    return node


def _only_excludes(node: Node) -> bool:
    """True when the query would match nearly everything (it only says what to leave out)."""
    if isinstance(node, Not):
        return True
    if isinstance(node, And):
        return all(_only_excludes(o) for o in node.operands)
    if isinstance(node, Or):
        return any(_only_excludes(o) for o in node.operands)
    return False


# --- matching -----------------------------------------------------------------------------

Matcher = Callable[[MentionFields], bool]
_LATIN = re.compile(r"[0-9a-z_]")


def _text_matcher(value: str, phrase: bool, attribute: str) -> Matcher:
    prefix = value.endswith("*") and not phrase and len(value) > 1
    core = value.rstrip("*") if prefix else value
    latin_start = bool(_LATIN.match(core[:1]))
    latin_end = bool(_LATIN.match(core[-1:]))
    if not (latin_start or latin_end):
        return lambda m: core in getattr(m, attribute)
    # Word boundaries only on the Latin ends: "iPhone手机" still matches "iphone".
    pattern = re.compile(
        ("(?<![0-9a-z_])" if latin_start else "")
        + re.escape(core)
        + ("" if prefix or not latin_end else "(?![0-9a-z_])")
    )

    def match(m: MentionFields) -> bool:
        haystack: str = getattr(m, attribute)
        # The substring test first: it is much cheaper and rules out nearly every mention.
        return core in haystack and pattern.search(haystack) is not None

    return match


def compile_node(node: Node) -> Matcher:
    if isinstance(node, Term):
        if node.field in (QueryField.TEXT, QueryField.AUTHOR):
            return _text_matcher(node.value, node.phrase, node.field.value)
        value, attribute = node.value, node.field.value
        return lambda m: getattr(m, attribute) == value
    if isinstance(node, Not):
        inner = compile_node(node.operand)
        return lambda m: not inner(m)
    parts = tuple(compile_node(o) for o in node.operands)
    if isinstance(node, And):
        return lambda m: all(p(m) for p in parts)
    return lambda m: any(p(m) for p in parts)


def compile_query(query: str) -> Matcher:
    """Parse and compile; raises QueryError with the position of the first problem."""
    return compile_node(parse_query(query))


def fields_of(
    *, text: str, author: str, platform: str, language: str, sentiment: str | None
) -> MentionFields:
    return MentionFields(
        text=text.lower(),
        author=author.lower(),
        platform=platform.lower(),
        lang=language.lower(),
        sentiment=(sentiment or "").lower(),
    )
