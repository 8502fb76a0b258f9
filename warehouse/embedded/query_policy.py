"""What a user's query may name, decided on the engine's own parse of it (`EXPLAIN AST`).

chDB runs every query as one engine user, so the endpoint does the part of a server's access
control that grants would do: table functions, table engines and dictionary sources that touch
the file system or the network are refused for everyone but an `allow_external` admin (the
engine's grants refuse the network too unless such an admin exists), `file()` reads only under
user_files, a user with a database allow-list may only name tables there and the reflection
tables BI tools read, and a GET may only read. The checks read the engine's AST, so comments,
quoting and formatting cannot hide a name from them; whatever the checks cannot place is refused.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from funnelhouse.warehouse.embedded import dictionary_sources
from funnelhouse.warehouse.embedded.errors import ClickHouseError
from funnelhouse.warehouse.embedded.host_files import UserFiles, literal_string
from funnelhouse.warehouse.embedded.sql_text import (
    assigned_settings,
    decode_sql,
    encode_sql,
    is_insert,
    text_param,
    tokens,
)
from funnelhouse.warehouse.embedded.users import User

# Table functions that only compute rows; everything else (file, url, s3, remote, mysql, ...)
# reaches outside the warehouse or names tables by string.
LOCAL_TABLE_FUNCTIONS = frozenset(
    {"numbers", "numbers_mt", "zeros", "zeros_mt", "generaterandom", "generate_series",
     "generateseries", "values", "null", "view", "format"}
)  # fmt: skip
# Table functions that take a structure string, which the engine parses with column
# expressions (DEFAULT ...) that this check never sees.
STRUCTURE_FUNCTIONS = frozenset({"format", "generaterandom", "null", "values", "input", "file"})
# Table functions that read other tables by name: fine for users without an allow-list.
TABLE_READING_FUNCTIONS = frozenset({"merge", "loop", "input", "dictionary"})
# Table and database engines that keep their data in the warehouse (dbt-clickhouse creates
# its schemas with ENGINE = Atomic; a cluster's with Replicated).
LOCAL_ENGINES = frozenset(
    {"memory", "log", "tinylog", "stripelog", "null", "set", "join", "buffer", "merge",
     "dictionary", "generaterandom", "view", "materializedview", "keepermap",
     "atomic", "ordinary", "lazy", "replicated"}
)  # fmt: skip
# Functions that read host files (the scalar one without any grant check in the engine): allowed
# under user_files only.
HOST_FILE_FUNCTIONS = frozenset({"file"})
# Scalar functions that read a table or dictionary named in a string argument.
NAMED_TABLE_FUNCTION_PREFIXES = ("dict", "joinget", "hascolumnintable")
IN_FUNCTIONS = frozenset(
    {"in", "notin", "globalin", "globalnotin", "nullin", "notnullin", "globalnullin",
     "globalnotnullin"}
)  # fmt: skip
# Statements that only read; a GET may run nothing else.
READ_STATEMENTS = frozenset(
    {"SelectWithUnionQuery", "SelectIntersectExceptQuery", "SelectQuery", "ShowTables",
     "DescribeQuery", "ShowCreateTableQuery", "ShowCreateViewQuery", "ShowCreateDatabaseQuery",
     "ShowCreateDictionaryQuery", "ExistsTableQuery", "ExistsViewQuery", "ExistsDatabaseQuery",
     "ExistsDictionaryQuery", "Explain", "Set", "UseQuery", "ShowFunctions"}
)  # fmt: skip
SELECT_STATEMENTS = frozenset({"SelectWithUnionQuery", "SelectIntersectExceptQuery", "SelectQuery"})
# The database a dictionary's own queries run in: the engine builds their context from its global
# one, whatever database the statement creating the dictionary ran in.
DICTIONARY_QUERY_DATABASE = "default"
# System tables a BI tool reads for reflection; the first three are filtered to the allow-list.
REFLECTION_TABLES = frozenset(
    {"databases", "tables", "columns", "functions", "settings", "formats", "data_type_families",
     "table_engines", "table_functions", "one", "numbers", "numbers_mt", "zeros", "time_zones",
     "collations", "build_options", "aggregate_function_combinators", "keywords",
     "current_roles", "enabled_roles", "licenses", "contributors"}
)  # fmt: skip
_INFORMATION_SCHEMA = frozenset({"information_schema", "INFORMATION_SCHEMA"})
_CURRENT_USER_FUNCTIONS = frozenset({"currentuser", "user", "current_user", "session_user"})
# Words that make the engine read or write a host file from the client side of chDB; refused
# wherever they appear (even in a comment or a string), which errs only on the refusing side.
_HOST_FILE_CLAUSES = re.compile(rb"(?i)(?:INTO\s+)?OUTFILE|INFILE")
_FILTER_SETTING = re.compile(rb"(?i)additional_table_filters")
_COLUMN_EXPRESSION = re.compile(r"(?i)\b(?:DEFAULT|MATERIALIZED|ALIAS|EPHEMERAL)\b")
# Settings that add to a query what its AST does not show (a result filter, a table read when
# FROM is missing, the rewriting settings of clickhouse-local's `--select`/`--filter`, ...) or
# name host paths (format schemas and templates, error logs, renamed files): refused wherever a
# setting can come from, for every user without allow_external.
GUARDED_SETTINGS = frozenset(
    {
        "additional_result_filter", "implicit_table_at_top_level", "select", "filter", "order",
        "sort", "format_schema", "format_schema_source", "output_format_schema",
        "format_template_resultset", "format_template_row", "input_format_record_errors_file_path",
        "rename_files_after_processing", "s3_base", "url_base", "promql_database", "promql_table",
        "input_format_values_interpret_expressions",
        "input_format_values_deduce_templates_of_expressions",
        # the network: a schema registry, disks defined in a table's settings
        "format_avro_schema_registry_url", "disk", "storage_policy", "table_disk",
        # another parser would read the check's own EXPLAIN as a query of its language
        "dialect", "allow_experimental_kusto_dialect", "allow_experimental_prql_dialect",
    }
)  # fmt: skip
# Rows are data: a Values row (INSERT data, the data argument of format()) may hold literals
# only, not subqueries or file() calls that the check (which sees no rows) never sees.
LITERAL_VALUES = {
    "input_format_values_interpret_expressions": "0",
    "input_format_values_deduce_templates_of_expressions": "0",
}
_CHILDREN = re.compile(r" \(children (\d+)\)$")
TOO_MANY_ROWS_OR_BYTES = 396
_ALIAS = re.compile(r" \(alias .*\)$")


@dataclass
class Node:
    kind: str
    text: str
    children: list[Node] = field(default_factory=list)
    parent: Node | None = None
    declared_children: int = 0

    def walk(self) -> Iterator[Node]:
        yield self
        for child in self.children:
            yield from child.walk()


def parse_ast(explain: str) -> Node:
    """Build the tree from `EXPLAIN AST` text: one node a line, indented one space a level."""
    root: Node | None = None
    stack: list[Node] = []
    for line in explain.split("\n"):  # not splitlines(): literals may hold \x1c, \x85, ...
        if not line.strip():
            continue
        depth = len(line) - len(line.lstrip(" "))
        declared = _CHILDREN.search(line.rstrip())
        content = _ALIAS.sub("", _CHILDREN.sub("", line.strip()))
        kind, _, text = content.partition(" ")
        if kind in ("Storage", "Columns", "Dictionary"):  # two-word kinds
            word, _, text = text.partition(" ")
            kind = f"{kind} {word}"
        node = Node(kind, text.strip(), declared_children=int(declared[1]) if declared else 0)
        if depth == 0:
            if root is not None:
                raise _several_statements()
            root = node
            stack = [node]
            continue
        if depth > len(stack):
            raise _unplaceable("an AST line out of order")
        del stack[depth:]
        node.parent = stack[-1]
        stack[-1].children.append(node)
        stack.append(node)
    if root is None:
        raise _unplaceable("an empty AST")
    # A cut EXPLAIN output (a result limit, a `limit` setting) must not pass for a whole query.
    if any(len(node.children) != node.declared_children for node in root.walk()):
        raise _unplaceable("an incomplete AST")
    return root


def _several_statements() -> ClickHouseError:
    return ClickHouseError(
        62, "SYNTAX_ERROR", "Syntax error (Multi-statements are not allowed): the query holds "
        "more than one statement; send them one request each",
    )  # fmt: skip


def _unplaceable(what: str) -> ClickHouseError:
    return ClickHouseError(
        497, "ACCESS_DENIED", f"The endpoint could not check this query ({what}); it is refused."
    )


def reflection_filters(databases: tuple[str, ...]) -> str:
    """`additional_table_filters` that hide other databases from system reflection tables."""
    shown = ", ".join(_quote(d) for d in (*databases, "system", *_INFORMATION_SCHEMA))
    filters = {
        "system.databases": f"name IN ({shown})",
        "system.tables": f"database IN ({shown})",
        "system.columns": f"database IN ({shown})",
    }
    return "{" + ", ".join(f"{_quote(k)}: {_quote(v)}" for k, v in filters.items()) + "}"


def _quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def with_current_user(sql: str, user: User) -> str:
    """Make `currentUser()` and its aliases answer the endpoint's user, not the engine's.

    The engine knows only its own `default`; the call is replaced by the user's name as a
    string (the engine's AST check afterwards refuses any call this missed)."""
    if user.name == "default":
        return sql
    raw = encode_sql(sql)
    toks = list(tokens(raw))
    out, last = [], 0
    for i in range(len(toks) - 2):
        a, b, c = toks[i], toks[i + 1], toks[i + 2]
        if (
            a.kind == "word"
            and a.text.lower().decode() in _CURRENT_USER_FUNCTIONS
            and b.text == b"("
            and c.text == b")"
            and (i == 0 or toks[i - 1].text != b".")
        ):
            out.append(raw[last : a.start])
            out.append(_quote(user.name).encode())
            last = c.end
    if not out:
        return sql
    out.append(raw[last:])
    return decode_sql(b"".join(out))


class QueryPolicy:
    """Checks one query for one user on the connection that will run it."""

    def __init__(self, run: Any, user_files: UserFiles):
        self._run = run  # run(conn, sql, fmt) -> engine result
        self._user_files = user_files

    def check(
        self,
        conn: Any,
        user: User,
        sql: str,
        read_only: bool,
        settings: dict[str, str],
        params: dict[str, str],
        temporary: frozenset[str] = frozenset(),
    ) -> None:
        """Raise the ClickHouse error a server would give if `user` may not run `sql`;
        `temporary` names the request's external tables, which any user may read."""
        raw = encode_sql(sql)
        # As the engine reads it (names unquoted and unescaped); a second statement, however
        # it is quoted, fails here, before the EXPLAIN below could run it.
        parsed = self._parsed(conn, sql)
        if not user.allow_external and _HOST_FILE_CLAUSES.search(raw):
            raise _denied(user, "INTO OUTFILE / FROM INFILE (files on the server host)")
        if user.databases is not None and (
            _FILTER_SETTING.search(raw)
            or _FILTER_SETTING.search(parsed)
            or any(_FILTER_SETTING.search(k.encode()) for k in settings)
        ):
            raise _denied(user, "changing additional_table_filters")
        if not user.allow_external:
            assigned = {*assigned_settings(parsed), *settings}
            guarded = sorted(n for n in assigned if n.lower() in GUARDED_SETTINGS)
            if guarded:
                raise _denied(user, f"setting {guarded[0]} (a query, table or host path unchecked)")
        # The text the endpoint runs, as is: a FORMAT clause left in would format EXPLAIN's own
        # output and fail the check (blanking any other `format <word>` here would check
        # another statement than the one that runs).
        explain_sql = decode_sql(raw)
        formatted: bytes | None = None
        if dictionary_sources.has_line_break_in_name(raw):
            formatted = self._single_line(conn, explain_sql)
            explain_sql = decode_sql(formatted)
        text = decode_sql(self._explain(conn, explain_sql, params))
        root = parse_ast(text)
        if read_only and root.kind not in READ_STATEMENTS:
            raise ClickHouseError(
                164,
                "READONLY",
                f"{user.name}: Cannot execute query in readonly mode. For queries over HTTP, "
                "method GET implies readonly. You should use method POST for modifying queries",
            )
        current_db: str | None = None
        if user.databases is not None:
            if root.kind not in READ_STATEMENTS and user.readonly:
                raise ClickHouseError(
                    164,
                    "READONLY",
                    f"{user.name}: Cannot execute query in readonly mode "
                    f"(user {user.name} has readonly = {user.readonly})",
                )
            current_db = self._current_database(conn)
        vetted: set[int] = set()
        definition = _dictionary_definition(root)
        if formatted is not None and definition is None:
            raise _unplaceable("a quoted name with a line break outside a dictionary source")
        if definition is not None and not user.allow_external:
            # Before a limited user's write is refused: the refusal then names a database the
            # dictionary would have read, the rule that holds whatever that user may write.
            if formatted is None:
                formatted = self._single_line(conn, explain_sql)
            vetted.add(id(self._check_dictionary(conn, user, root, definition, formatted)))
        if user.databases is not None and root.kind not in READ_STATEMENTS:
            raise _denied(user, f"{root.kind} (this user may only read)")
        for node in root.walk():
            self._check_node(node, user, current_db, temporary, vetted)

    def _parsed(self, conn: Any, sql: str) -> bytes:
        """The statement as the engine parses it, on one line; nothing runs. A byte that is
        not UTF-8 is read as U+FFFD (a parameter must be text): the engine's lexer treats both
        alike, as part of a name or a literal."""
        value = text_param(encode_sql(sql).decode("utf-8", "replace"))
        try:
            result = self._run(
                conn, "SELECT formatQuerySingleLine({q:String})", "TSVRaw", {"q": value}
            )
        except ClickHouseError as exc:
            if "Multi-statements" in exc.message:
                raise _several_statements() from None
            raise
        return result.bytes().rstrip(b"\n")

    def _current_database(self, conn: Any) -> str:
        return self._run(conn, "SELECT currentDatabase()", "TSVRaw").bytes().decode().strip()

    def _single_line(self, conn: Any, sql: str) -> bytes:
        """The engine's own single-line formatting of `sql` (no comments, keys and names as
        the engine read them), with the dictionary source's quoted names as string literals."""
        result = self._run(conn, f"SELECT formatQuerySingleLine({_quote(sql)})", "TSVRaw")
        formatted = result.bytes().removesuffix(b"\n")
        try:
            return dictionary_sources.source_values_as_literals(formatted)
        except ValueError as exc:
            raise _unplaceable(str(exc)) from exc

    def _check_dictionary(
        self, conn: Any, user: User, root: Node, definition: Node, formatted: bytes
    ) -> Node:
        """Allow a dictionary source that reads this warehouse only: a CLICKHOUSE source
        without a host, whose table, query, `where` and `invalidate_query` pass the checks a
        query of this user passes. Returns the source node, checked."""
        sources = [c for c in definition.children if c.kind == "FunctionWithKeyValueArguments"]
        if len(sources) != 1 or len(sources[0].children) != 1:
            raise _unplaceable("a dictionary without one source")
        source = sources[0]
        kind = source.text.split(" ")[0].lower()
        if kind != "clickhouse":
            raise _denied(user, f"dictionary source {kind or '?'}")
        dialect = self._run(conn, "SELECT getSetting('dialect')", "TSVRaw").bytes().strip()
        if dialect != b"clickhouse":
            # The engine reads a dictionary's queries as ClickHouse SQL, whatever the session's.
            raise _unplaceable(f"a dictionary source under dialect {dialect.decode()}")
        try:
            found = dictionary_sources.clauses(formatted)
        except ValueError as exc:
            raise _unplaceable(str(exc)) from exc
        if "SOURCE" not in found or found["SOURCE"].name != kind:
            raise _unplaceable("a dictionary source it could not find")
        self._check_layout(user, definition, found.get("LAYOUT"))
        pairs = source.children[0].children
        if len(pairs) != len(found["SOURCE"].pairs):
            raise _unplaceable("dictionary source keys that do not match its values")
        values: dict[str, str] = {}
        for pair, node in zip(found["SOURCE"].pairs, pairs, strict=True):
            if pair.key not in dictionary_sources.CLICKHOUSE_SOURCE_KEYS:
                keys = ", ".join(sorted(dictionary_sources.CLICKHOUSE_SOURCE_KEYS))
                raise _denied(
                    user, f"dictionary source key {pair.key} (a CLICKHOUSE source may only name "
                    f"a local table or query: {keys})",
                )  # fmt: skip
            if pair.key in values:
                raise _denied(user, f"dictionary source key {pair.key} given twice")
            values[pair.key] = _pair_value(user, pair, node)
        field = values.get("update_field")
        if field is not None and not dictionary_sources.PLAIN_NAME.fullmatch(field):
            raise _denied(user, "a dictionary update_field that is not a plain column name")
        if "update_lag" in values and not values["update_lag"].isdigit():
            raise _denied(user, "a dictionary update_lag that is not a number")
        if values.get("db") == "":
            raise _denied(user, "an empty dictionary source db")  # unqualified: not placeable
        query, table, where = values.get("query"), values.get("table"), values.get("where")
        if query is not None and table is not None:
            raise _denied(user, "a dictionary source with both a table and a query")
        if query is not None:
            if "{condition}" in query:
                raise _denied(user, "{condition} in a dictionary query (the engine splices text "
                              "into it)")  # fmt: skip
            checked = f"SELECT * FROM (\n{query}\n)" if where is not None else query
        elif table is not None:
            db = values.get("db") or _created_database(root) or self._current_database(conn)
            checked = f"SELECT * FROM {backquote(db)}.{backquote(table)}"
        else:
            checked = "SELECT 1" if where is not None else None
        if checked is not None:
            if where is not None:
                checked += f" WHERE {where}"
            self._check_source_query(conn, user, checked, "dictionary source")
        if values.get("invalidate_query") is not None:
            self._check_source_query(
                conn, user, values["invalidate_query"], "dictionary invalidate_query"
            )
        return source

    def _check_layout(
        self, user: User, definition: Node, layout: dictionary_sources.Clause | None
    ) -> None:
        """SSD_CACHE layouts keep the dictionary in a file on the host, at a path the
        statement may choose."""
        nodes = [c for c in definition.children if c.kind == "Dictionary layout"]
        if layout is None or len(nodes) != 1:
            raise _unplaceable("a dictionary without one layout")
        listed = nodes[0].children[0].children if nodes[0].children else []
        if len(listed) != len(layout.pairs):
            raise _unplaceable("dictionary layout keys that do not match its values")
        if "ssd" in layout.name or any(p.key == "path" for p in layout.pairs):
            raise _denied(user, f"dictionary layout {layout.name} (files on the server host)")

    def _check_source_query(self, conn: Any, user: User, sql: str, what: str) -> None:
        """Check SQL that the engine runs for a dictionary, later and as its own user, as this
        user's SELECT: the same refusals, in the database such queries run in."""
        raw = encode_sql(sql)
        parsed = self._parsed(conn, sql)
        if _HOST_FILE_CLAUSES.search(raw):
            raise _denied(user, f"INTO OUTFILE / FROM INFILE in a {what}")
        if user.databases is not None and (
            _FILTER_SETTING.search(raw) or _FILTER_SETTING.search(parsed)
        ):
            raise _denied(user, "changing additional_table_filters")
        root = parse_ast(decode_sql(self._explain(conn, sql, {})))
        if root.kind not in SELECT_STATEMENTS:
            raise _denied(user, f"a {what} that is not a SELECT ({root.kind})")
        current_db = DICTIONARY_QUERY_DATABASE if user.databases is not None else None
        for node in root.walk():
            self._check_node(node, user, current_db, frozenset(), set())
            if current_db is not None and node.kind == "TableIdentifier":
                db = node.text.split(".")[0] if "." in node.text else current_db
                if db == "system" or db in _INFORMATION_SCHEMA:
                    # The reflection filters are the session's settings; a dictionary's
                    # queries run without them and would list every database.
                    raise _denied(user, f"{node.text} in a {what} (unfiltered reflection)")

    def _explain(self, conn: Any, sql: str, params: dict[str, str]) -> bytes:
        """The query's AST. A SETTINGS clause in the query applies to its EXPLAIN too: past a
        `max_result_rows`/`max_result_bytes` there, the AST is read in `break` mode (one block:
        the whole tree, which parse_ast verifies), then the connection's mode is restored."""
        try:
            return self._run(conn, "EXPLAIN AST " + sql, "TSVRaw", params).bytes()
        except ClickHouseError as exc:
            if exc.code != TOO_MANY_ROWS_OR_BYTES:
                raise
        mode = self._run(conn, "SELECT getSetting('result_overflow_mode')", "TSVRaw").bytes()
        self._run(conn, "SET result_overflow_mode = 'break'", "TSVRaw")
        try:
            return self._run(conn, "EXPLAIN AST " + sql, "TSVRaw", params).bytes()
        finally:
            self._run(conn, f"SET result_overflow_mode = '{mode.decode().strip()}'", "TSVRaw")

    def _check_node(
        self,
        node: Node,
        user: User,
        current_db: str | None,
        temporary: frozenset[str],
        vetted: set[int],
    ) -> None:
        parent = node.parent.kind if node.parent else ""
        name = node.text.split(" ")[0] if node.text else ""
        lname = name.lower()
        limited = user.databases is not None
        external = user.allow_external
        if node.kind == "Function":
            if parent in ("TableExpression", "InsertQuery", "CreateQuery", "Explain"):
                allowed = LOCAL_TABLE_FUNCTIONS | (set() if limited else TABLE_READING_FUNCTIONS)
                if external:
                    pass
                elif lname in allowed:
                    _refuse_column_expressions(node, user)
                elif lname in HOST_FILE_FUNCTIONS and parent == "TableExpression" and not limited:
                    self._check_host_file(node, user)
                    _refuse_column_expressions(node, user)
                else:
                    raise _denied(user, f"table function {name}()")
            elif parent == "Storage definition" and node.parent.children[0] is node:
                if not (external or lname.endswith("mergetree") or lname in LOCAL_ENGINES):
                    raise _denied(user, f"table engine {name}")
            elif lname in HOST_FILE_FUNCTIONS and not external:
                if limited:
                    raise _denied(user, f"function {name}() (reads files on the server host)")
                self._check_host_file(node, user)
            elif lname in _CURRENT_USER_FUNCTIONS and user.name != "default":
                raise _unplaceable(f"a {name}() call it could not answer")
            elif limited and lname.startswith(NAMED_TABLE_FUNCTION_PREFIXES):
                raise _denied(user, f"function {name}() (reads tables named in a string)")
            elif limited and lname in IN_FUNCTIONS:
                args = node.children[0].children if node.children else []
                if len(args) == 2 and args[1].kind == "Identifier":
                    self._check_table(args[1].text, user, current_db)
        elif (
            node.kind == "FunctionWithKeyValueArguments"
            and parent == "Dictionary definition"
            and not external
            and id(node) not in vetted
        ):
            raise _denied(user, f"dictionary source {node.text or '?'}")
        elif (
            node.kind == "TableIdentifier"
            and not external
            and self._user_files.names_host_file(node.text)
        ):
            raise ClickHouseError(
                60,
                "UNKNOWN_TABLE",
                f"Unknown table expression identifier '{node.text}' (the endpoint does not read "
                "host files as tables; use file() on a file under user_files)",
            )
        if not limited:
            return
        if node.kind == "TableIdentifier" and node.text not in temporary:
            self._check_table(node.text, user, current_db)
        elif node.kind == "ShowColumns":
            raise _denied(user, "SHOW COLUMNS (use DESCRIBE or system.columns)")
        elif node.kind in ("UseQuery", "ShowTables") and node.children:
            self._check_database(node.children[0].text, user)
        elif node.kind.startswith(("ShowCreate", "Exists")) and node.kind not in (
            "ExistsDatabaseQuery",
            "ShowCreateDatabaseQuery",
        ):
            ids = [c.text for c in node.children if c.kind == "Identifier"]
            name = ".".join(ids) if len(ids) == 2 else (ids or [""])[0]
            self._check_table(name, user, current_db)
        elif node.kind in ("ExistsDatabaseQuery", "ShowCreateDatabaseQuery") and node.children:
            self._check_database(node.children[0].text, user)

    def _check_host_file(self, node: Node, user: User) -> None:
        args = node.children[0].children if node.children else []
        path = literal_string(args[0].text) if args and args[0].kind == "Literal" else None
        if path is None:
            raise _denied(user, "file() with a path that is not a string literal")
        self._user_files.check(path, user.name)

    def _check_table(self, name: str, user: User, current_db: str | None) -> None:
        assert user.databases is not None
        parts = name.split(".")
        if len(parts) == 1:
            db, table = current_db or "", parts[0]
        elif len(parts) == 2:
            db, table = parts
        else:
            raise _denied(user, f"{name} (a name the endpoint cannot place)")
        if db in user.databases or db in _INFORMATION_SCHEMA:
            return
        if db == "system" and table in REFLECTION_TABLES:
            return
        raise ClickHouseError(
            497,
            "ACCESS_DENIED",
            f"{user.name}: Not enough privileges. To execute this query, it's necessary to have "
            f"the grant SELECT ON {db}.{table}. User {user.name} may read "
            f"{', '.join(user.databases)} and system reflection tables only "
            "(`databases` in the users file)",
        )

    def _check_database(self, db: str, user: User) -> None:
        assert user.databases is not None
        if db not in user.databases and db not in _INFORMATION_SCHEMA:
            raise ClickHouseError(
                497,
                "ACCESS_DENIED",
                f"{user.name}: Not enough privileges for database {db}. User {user.name} may "
                f"use {', '.join(user.databases)} only (`databases` in the users file)",
            )


def _refuse_column_expressions(node: Node, user: User) -> None:
    """A structure string (`format(CSV, 'a String, b String DEFAULT file(...)', ...)`) is
    parsed by the engine, not by this check: a column expression in it would run unchecked.
    So the arguments of a function that takes one are literals (a computed one could be
    anything), and no string among them declares a column expression."""
    name = node.text.split(" ")[0].lower() if node.text else ""
    if name not in STRUCTURE_FUNCTIONS:
        return
    for arg in node.children[0].children if node.children else []:
        if arg.kind not in ("Literal", "Identifier"):
            raise _denied(user, f"a computed argument of {name}() (its structure is unchecked)")
        value = literal_string(arg.text) if arg.kind == "Literal" else None
        if value is not None and _COLUMN_EXPRESSION.search(value):
            raise _denied(user, f"a column DEFAULT/ALIAS/MATERIALIZED/EPHEMERAL in {name}()")


def _denied(user: User, what: str) -> ClickHouseError:
    return ClickHouseError(
        497,
        "ACCESS_DENIED",
        f"{user.name}: Not enough privileges: {what} is not allowed on this endpoint. "
        "Read files from the data directory's user_files with file(), load remote data through "
        "the ingest layer, or use a user with allow_external in the users file.",
    )


def _dictionary_definition(root: Node) -> Node | None:
    found = [n for n in root.walk() if n.kind == "Dictionary definition"]
    if len(found) > 1 or (found and found[0].parent is not root):
        raise _unplaceable("a dictionary definition out of place")
    return found[0] if found else None


def _created_database(root: Node) -> str | None:
    """The database of `CREATE DICTIONARY db.name`, which a source's table without `db` is in."""
    names = [c.text for c in root.children if c.kind == "Identifier"]
    return names[0] if len(names) == 2 else None


def _pair_value(user: User, pair: dictionary_sources.Pair, node: Node) -> str:
    """A source value as the engine read it, from the AST, after matching it to its key's token."""
    value = node.children[0] if node.kind == "pair" and len(node.children) == 1 else None
    if pair.value is None or value is None:
        raise _denied(user, f"a dictionary source {pair.key} that is not a string, number or name")
    if value.kind == "Literal" and pair.value.kind == "string":
        text = literal_string(value.text)
    elif value.kind == "Literal" and pair.value.kind == "number":
        text = value.text.removeprefix("UInt64_") if value.text.startswith("UInt64_") else None
    elif value.kind == "Identifier" and pair.value.kind in ("word", "quoted", "string"):
        # ("string": a quoted name, which the single-line form writes as a literal)
        text = value.text
    else:
        text = None
    if text is None:
        raise _unplaceable(f"the value of dictionary source key {pair.key}")
    return text


def backquote(name: str) -> str:
    """A name as a quoted identifier, whatever it holds."""
    return "`" + name.replace("\\", "\\\\").replace("`", "\\`") + "`"


def without_format_clause(sql: str) -> str:
    """The query without its own top-level `FORMAT name` (the last, the one `output_format`
    reports): the endpoint runs this text with that format as the engine's output format,
    and checks this same text. Only the two words are blanked; removing word characters
    cannot open or close a quote or a comment."""
    raw = encode_sql(sql)
    if is_insert(raw):
        return sql  # an INSERT's FORMAT names its input
    toks = [t for t in tokens(raw) if t.depth == 0]
    buf = bytearray(raw)
    for prev, tok in reversed(list(itertools.pairwise(toks))):
        if prev.kind == "word" and prev.text.upper() == b"FORMAT" and tok.kind == "word":
            buf[prev.start : tok.end] = b" " * (tok.end - prev.start)
            break
    return decode_sql(bytes(buf))
