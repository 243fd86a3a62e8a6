"""List filters and ordering (API.md, AIP-160 and AIP-132), compiled to SQLAlchemy.

A filter is parsed by a lark grammar into a small tree, then compiled against the fields a listing
declares: each `Field` names its JSON path (`givenName`, `customFields.region`), the SQL expression
behind it and its kind. Operators: `=`, `!=`, `<`, `<=`, `>`, `>=`, `:` (has / contains), `AND`,
`OR`, `NOT` (or `-`), parentheses; as in AIP-160, `OR` binds tighter than `AND`, and terms written
side by side are ANDed. A problem is an InvalidArgument on `filter` / `order_by` that says what is
wrong and where.
"""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import lark
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.sql.elements import ColumnElement

from crmkit.errors import FieldViolation, InvalidArgument

GRAMMAR = r"""
    ?start: expression?
    ?expression: sequence (_AND sequence)*
    ?sequence: factor (factor)*
    ?factor: term (_OR term)*
    ?term: _NOT simple -> negation
         | "-" simple -> negation
         | simple
    ?simple: restriction
           | "(" expression ")"
    restriction: member COMPARATOR value
    member: NAME ("." NAME)*
    ?value: ESCAPED_STRING -> string
          | SIGNED_NUMBER -> number
          | WORD -> word
    COMPARATOR: "<=" | ">=" | "!=" | "<" | ">" | "=" | ":"
    _AND.2: "AND"
    _OR.2: "OR"
    _NOT.2: "NOT"
    NAME: /[A-Za-z_][A-Za-z0-9_]*/
    WORD: /[A-Za-z_][A-Za-z0-9_.@+\-]*/
    %import common.ESCAPED_STRING
    %import common.SIGNED_NUMBER
    %import common.WS
    %ignore WS
"""
MAX_FILTER_LENGTH = 2000


class KeyType(enum.Enum):
    """The declared type of one key of a JSON object field (`customFields.<key>`)."""

    TEXT = "text"
    NUMBER = "number"
    DECIMAL = "decimal"  # an exact decimal stored as a JSON string ("1234.50")
    DATE = "date"  # an ISO 8601 date stored as a JSON string ("2026-01-31")
    BOOLEAN = "boolean"
    TEXT_LIST = "text_list"  # a JSON array of strings (multi-select)


class Kind(enum.Enum):
    TEXT = "text"  # `:` is a case-insensitive substring match
    ENUM = "enum"  # equality only; bare words allowed (lifecycleStage = CUSTOMER)
    NUMBER = "number"
    BOOLEAN = "boolean"  # `done = true`; equality only
    TIMESTAMP = "timestamp"  # RFC 3339 strings
    TEXT_LIST = "text_list"  # a JSON array of strings: `tags:vip` is membership
    JSON_OBJECT = "json_object"  # `customFields.<key>`: typed by the value compared with


@dataclass(frozen=True)
class Field:
    path: str  # the JSON name partners use, e.g. "givenName" or "customFields"
    column: Any  # the SQLAlchemy column or expression
    kind: Kind
    sortable: bool = False
    # TEXT_LIST only: builds "the list has this item" when the list lives elsewhere (another table).
    has: Callable[[str], ColumnElement[bool]] | None = None
    # JSON_OBJECT only: the declared type of each key. None: untyped (typed by the literal compared
    # with); a mapping: only these keys, compared, ordered and validated by their declared type.
    key_types: Mapping[str, KeyType] | None = None


@dataclass(frozen=True)
class Order:
    field: Field
    descending: bool


@functools.cache
def _parser() -> lark.Lark:
    return lark.Lark(GRAMMAR, parser="lalr", maybe_placeholders=False)


def _invalid(field: str, description: str) -> InvalidArgument:
    return InvalidArgument.of([FieldViolation(field, description)])


def parse(text: str) -> lark.Tree | None:
    """The filter's syntax tree, or None for an empty filter."""
    if len(text) > MAX_FILTER_LENGTH:
        raise _invalid("filter", f"is longer than {MAX_FILTER_LENGTH} characters")
    if not text.strip():
        return None
    try:
        tree = _parser().parse(text)
    except lark.exceptions.UnexpectedInput as exc:
        column = getattr(exc, "column", "?")
        raise _invalid("filter", f"syntax error at column {column}: {_near(text, exc)}") from None
    return tree


def _near(text: str, exc: lark.exceptions.UnexpectedInput) -> str:
    position = getattr(exc, "pos_in_stream", None)
    if position is None:
        return "unexpected end of the filter"
    return f"unexpected {text[position : position + 12]!r}"


def compile_filter(text: str, fields: Sequence[Field], dialect: str) -> ColumnElement[bool] | None:
    """The SQL condition for a filter string (None when it is empty)."""
    tree = parse(text)
    if tree is None:
        return None
    return _Compiler({f.path: f for f in fields}, dialect).visit(tree)


class _Compiler:
    def __init__(self, fields: Mapping[str, Field], dialect: str) -> None:
        self.fields = fields
        self.dialect = dialect

    def visit(self, node: lark.Tree) -> ColumnElement[bool]:
        if node.data == "expression" or node.data == "sequence":
            return sa.and_(*(self.visit(child) for child in node.children))
        if node.data == "factor":
            return sa.or_(*(self.visit(child) for child in node.children))
        if node.data == "negation":
            return sa.not_(self.visit(node.children[0]))
        if node.data == "restriction":
            member, comparator, value = node.children
            return self.restriction(member, comparator, value)
        raise _invalid("filter", f"unsupported construct {node.data}")  # pragma: no cover - grammar bound

    def restriction(self, member: Any, comparator: Any, value: Any) -> ColumnElement[bool]:
        names = [str(t) for t in member.children]
        path = ".".join(names)
        field = self.fields.get(names[0])
        if field is None:
            raise _invalid("filter", f"cannot filter on {path!r}; filterable: {', '.join(sorted(self.fields))}")
        literal = _literal(value)
        op = str(comparator)
        if field.kind is Kind.JSON_OBJECT:
            if len(names) != 2:
                raise _invalid("filter", f"name one key of {names[0]}, as in {names[0]}.region")
            return self.json_key(field, names[1], op, literal, path)
        if len(names) != 1:
            raise _invalid("filter", f"{names[0]} has no sub-fields ({path!r})")
        return self.typed(field, op, literal, path)

    def typed(self, field: Field, op: str, literal: Any, path: str) -> ColumnElement[bool]:
        column = field.column
        if field.kind is Kind.TEXT_LIST:
            if op != ":":
                raise _invalid("filter", f"{path} is a list: use {path}:value")
            if field.has is not None:
                return field.has(str(literal))
            return self.list_has(column, str(literal))
        if field.kind is Kind.TEXT and op == ":":
            return sa.func.lower(column).contains(str(literal).lower(), autoescape=True)
        if op == ":":
            raise _invalid("filter", f"':' applies to text and lists; use = on {path}")
        if field.kind is Kind.ENUM and op not in ("=", "!="):
            raise _invalid("filter", f"{path} can only be compared with = or !=")
        if field.kind is Kind.BOOLEAN:
            if op not in ("=", "!=") or not isinstance(literal, bool):
                raise _invalid("filter", f"{path} is true or false; compare it with = or !=")
        elif field.kind is Kind.NUMBER:
            if not isinstance(literal, int | float):
                raise _invalid("filter", f"{path} is a number; compare it with a number")
        elif field.kind is Kind.TIMESTAMP:
            literal = _timestamp(literal, path)
        elif not isinstance(literal, str):
            literal = str(literal)
        return _compare(column, op, literal)

    def json_key(self, field: Field, key: str, op: str, literal: Any, path: str) -> ColumnElement[bool]:
        if field.key_types is not None:
            return self.typed_key(field, key, op, literal, path)
        element = field.column[key]
        if op == ":":
            return sa.func.lower(element.as_string()).contains(str(literal).lower(), autoescape=True)
        if isinstance(literal, bool):
            return _compare(element.as_boolean(), op, literal)
        if isinstance(literal, int | float):
            return _compare(element.as_float(), op, float(literal))
        return _compare(element.as_string(), op, str(literal))

    def typed_key(self, field: Field, key: str, op: str, literal: Any, path: str) -> ColumnElement[bool]:
        assert field.key_types is not None
        key_type = field.key_types.get(key)
        if key_type is None:
            known = ", ".join(sorted(field.key_types)) or "none"
            raise _invalid("filter", f"{path} is not a defined field; defined: {known}")
        if key_type is KeyType.TEXT_LIST:
            if op != ":":
                raise _invalid("filter", f"{path} is a list: use {path}:value")
            return self.json_list_has(field.column, key, str(literal))
        expression = key_expression(field.column, key, key_type, self.dialect)
        if op == ":":
            if key_type is not KeyType.TEXT:
                raise _invalid("filter", f"':' applies to text; use = on {path}")
            return sa.func.lower(expression).contains(str(literal).lower(), autoescape=True)
        if key_type is KeyType.TEXT:
            return _compare(expression, op, str(literal))
        if key_type is KeyType.BOOLEAN:
            if not isinstance(literal, bool) or op not in ("=", "!="):
                raise _invalid("filter", f"{path} is true or false: compare it with = true or = false")
            return _compare(expression, op, literal)
        if key_type is KeyType.NUMBER:
            if isinstance(literal, bool) or not isinstance(literal, int | float):
                raise _invalid("filter", f"{path} is a number; compare it with a number")
            return _compare(expression, op, float(literal))
        if key_type is KeyType.DECIMAL:
            try:
                number = decimal.Decimal(str(literal))
            except decimal.InvalidOperation:
                raise _invalid("filter", f"{path} is a decimal; compare it with a number") from None
            if isinstance(literal, bool) or not number.is_finite():
                raise _invalid("filter", f"{path} is a decimal; compare it with a number")
            return _compare(expression, op, _decimal_literal(str(number), self.dialect))
        try:  # DATE
            value = dt.date.fromisoformat(str(literal)).isoformat()
        except ValueError:
            raise _invalid("filter", f'{path} is a date: compare it with "YYYY-MM-DD"') from None
        return _compare(expression, op, value)

    def json_list_has(self, column: Any, key: str, item: str) -> ColumnElement[bool]:
        if self.dialect == "postgresql":
            return sa.type_coerce(column[key], JSONB).contains([item])
        values = sa.func.json_each(column, f'$."{key}"').table_valued("value")
        return sa.exists(sa.select(1).select_from(values).where(values.c.value == item))

    def list_has(self, column: Any, item: str) -> ColumnElement[bool]:
        return list_contains(column, item, self.dialect)


def list_contains(column: Any, item: str, dialect: str) -> ColumnElement[bool]:
    """Whether a JSON array column holds `item` (for stores that look up list members themselves)."""
    if dialect == "postgresql":
        return sa.type_coerce(column, JSONB).contains([item])  # JSONB @>, which a GIN index serves
    values = sa.func.json_each(column).table_valued("value")
    return sa.exists(sa.select(1).select_from(values).where(values.c.value == item))


def key_expression(column: Any, key: str, key_type: KeyType, dialect: str) -> Any:
    """The SQL value of one typed key of a JSON object column, for comparing and ordering."""
    element = column[key]
    if key_type is KeyType.NUMBER:
        return element.as_float()
    if key_type is KeyType.BOOLEAN:
        return element.as_boolean()
    if key_type is KeyType.DECIMAL:  # exact on PostgreSQL; SQLite has no exact decimal type
        return sa.cast(element.as_string(), sa.Numeric() if dialect == "postgresql" else sa.Float())
    return element.as_string()


def _decimal_literal(text: str, dialect: str) -> Any:
    return sa.cast(sa.literal(text), sa.Numeric() if dialect == "postgresql" else sa.Float())


def _compare(column: Any, op: str, value: Any) -> ColumnElement[bool]:
    operators = {
        "=": column.__eq__,
        "!=": column.__ne__,
        "<": column.__lt__,
        "<=": column.__le__,
        ">": column.__gt__,
        ">=": column.__ge__,
    }
    result: ColumnElement[bool] = operators[op](value)
    return result


def _literal(node: lark.Tree | lark.Token) -> Any:
    token = node.children[0] if isinstance(node, lark.Tree) else node
    text = str(token)
    kind = node.data if isinstance(node, lark.Tree) else "word"
    if kind == "string":
        return text[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    if kind == "number":
        number = float(text)
        return int(number) if number.is_integer() and "." not in text and "e" not in text.lower() else number
    if text in ("true", "false"):
        return text == "true"
    return text


def _timestamp(value: Any, path: str) -> dt.datetime:
    try:
        parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise _invalid("filter", f'{path} takes an RFC 3339 time, e.g. "2026-01-31T00:00:00Z"') from None
    if parsed.tzinfo is None:
        raise _invalid("filter", f"{path}: give the time zone, e.g. a trailing Z for UTC")
    return parsed


# What a missing typed key sorts as (first, ascending), so that keyset cursors never meet a NULL.
_MISSING = {
    KeyType.TEXT: "",
    KeyType.DATE: "",
    KeyType.NUMBER: -1e300,
    KeyType.DECIMAL: -1e300,
    KeyType.BOOLEAN: False,
}


def parse_order_by(
    text: str, fields: Sequence[Field], default: Sequence[Order], dialect: str = "postgresql"
) -> list[Order]:
    """`createTime desc, givenName` -> orders; without one, the listing's default.

    A JSON object field with declared key types is also sortable by one of its keys
    (`customFields.seats desc`), compared by the key's type.
    """
    if not text.strip():
        return list(default)
    sortable = {f.path: f for f in fields if f.sortable}
    for json_field in fields:
        for key, key_type in (json_field.key_types or {}).items():
            if json_field.kind is Kind.JSON_OBJECT and key_type in _MISSING:
                expression = key_expression(json_field.column, key, key_type, dialect)
                missing: Any = _MISSING[key_type]
                if key_type is KeyType.DECIMAL:
                    missing = _decimal_literal("-1E+40", dialect)
                column = sa.func.coalesce(expression, missing)
                sortable[f"{json_field.path}.{key}"] = Field(f"{json_field.path}.{key}", column, Kind.TEXT, True)
    orders: list[Order] = []
    for part in text.split(","):
        words = part.split()
        if not words or len(words) > 2 or (len(words) == 2 and words[1].lower() not in ("asc", "desc")):
            raise _invalid("order_by", f"write fields as `name` or `name desc`, got {part.strip()!r}")
        field = sortable.get(words[0])
        if field is None:
            raise _invalid("order_by", f"cannot order by {words[0]!r}; sortable: {', '.join(sorted(sortable))}")
        orders.append(Order(field, len(words) == 2 and words[1].lower() == "desc"))
    return orders


def uses_key_types(filter: str, order_by: str, fields: Sequence[Field]) -> bool:
    """Whether declared key types (`Field.key_types`) can change what this filter and order compile
    to, or the error they raise: the filter names a JSON object field (`customFields.x`), or the
    order names anything but a plain sortable field (a typed key, or an unknown name, whose error
    lists the typed keys). A listing for which this is False compiles the same without them, so
    need not read the tenant's definitions. Conservative: any mention of the field's name counts."""
    if any(f.path in filter for f in fields if f.kind is Kind.JSON_OBJECT):
        return True
    plain = {f.path for f in fields if f.sortable}
    return any(part.split()[0] not in plain for part in order_by.split(",") if part.split())


def order_clauses(orders: Sequence[Order], tiebreak: Any) -> list[Any]:
    return [o.field.column.desc() if o.descending else o.field.column.asc() for o in orders] + [tiebreak.asc()]


def after_position(orders: Sequence[Order], tiebreak: Any, position: Sequence[Any]) -> ColumnElement[bool]:
    """Rows after `position` (the sort values of the last row served, then its id): a keyset cursor."""
    keys = [(o.field.column, o.descending) for o in orders] + [(tiebreak, False)]
    branches = []
    for index, (column, descending) in enumerate(keys):
        equal = [keys[i][0] == position[i] for i in range(index)]
        beyond = column < position[index] if descending else column > position[index]
        branches.append(sa.and_(*equal, beyond))
    return sa.or_(*branches)


def keyset_page(
    session: Any,
    selected: Any,
    tiebreak: Any,
    orders: Sequence[Order],
    conditions: Sequence[ColumnElement[bool] | None],
    after: Sequence[Any] | None,
    limit: int,
) -> list[tuple[Any, list[Any]]]:
    """Up to `limit` rows matching every condition, ordered by `orders` then `tiebreak` (the id),
    after the keyset position `after`; each row comes with its own position for the next cursor. A
    position that does not fit the order raises LookupError (a token from another listing).

    `selected` is a mapped entity (rows come as its objects) or a list of table columns, `tiebreak`
    among them (rows come as plain rows: for a page read only to answer, without the ORM objects an
    entity costs per row)."""
    plain = isinstance(selected, Sequence)  # columns, or a mapped entity
    columns = list(selected) if plain else [selected]
    sort_values = [o.field.column.label(f"sort_{i}") for i, o in enumerate(orders)]
    query = sa.select(*columns, *sort_values).where(*(c for c in conditions if c is not None))
    if after:
        if len(after) != len(orders) + 1:
            raise LookupError("position does not match the order")
        query = query.where(after_position(orders, tiebreak, after))
    query = query.order_by(*order_clauses(orders, tiebreak)).limit(limit)
    if not plain:
        rows = session.execute(query).all()
        return [(row[0], [*row[1:], getattr(row[0], tiebreak.key)]) for row in rows]
    count = len(columns)
    return [(row, [*row[count:], getattr(row, tiebreak.key)]) for row in session.connection().execute(query).all()]


# --- the same filters over one JSON document in memory (e.g. an event's data) ---


def evaluate(tree: lark.Tree | None, document: Mapping[str, Any]) -> bool:
    """Whether a parsed filter holds for a JSON document (protobuf's JSON shape: lowerCamelCase,
    enums as names, times as RFC 3339 strings). Any dotted path may be named; there is no schema,
    so the literal decides the comparison: a number compares numbers, true/false booleans, anything
    else text. A missing path is no value: only `!=` holds for it. `:` is membership for a list and
    a case-insensitive substring for text."""
    if tree is None:
        return True
    return _Evaluator(document).visit(tree)


class _Evaluator:
    def __init__(self, document: Mapping[str, Any]) -> None:
        self.document = document

    def visit(self, node: lark.Tree) -> bool:
        if node.data in ("expression", "sequence"):
            return all(self.visit(child) for child in node.children)
        if node.data == "factor":
            return any(self.visit(child) for child in node.children)
        if node.data == "negation":
            return not self.visit(node.children[0])
        if node.data == "restriction":
            member, comparator, value = node.children
            return self.restriction([str(t) for t in member.children], str(comparator), _literal(value))
        raise _invalid("filter", f"unsupported construct {node.data}")  # pragma: no cover - grammar bound

    def restriction(self, names: list[str], op: str, literal: Any) -> bool:
        found: Any = self.document
        for name in names:
            if not isinstance(found, Mapping) or name not in found:
                return op == "!="
            found = found[name]
        if found is None:
            return op == "!="
        if op == ":":
            if isinstance(found, list):
                return any(_equal_text(item, literal) for item in found)
            return str(literal).lower() in _text(found).lower()
        if isinstance(found, list | Mapping):
            return op == "!="
        if isinstance(literal, bool):
            if op not in ("=", "!="):
                return False
            return (found is literal or _text(found) == _text(literal)) == (op == "=")
        if isinstance(literal, int | float):
            try:
                number = float(found)
            except (TypeError, ValueError):
                return op == "!="
            return bool(_OPERATORS[op](number, float(literal)))
        return bool(_OPERATORS[op](_text(found), str(literal)))


_OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "=": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _equal_text(item: Any, literal: Any) -> bool:
    return _text(item).lower() == _text(literal).lower()
