{#- Row-level replace for a model whose rows are keyed (one row per key of one input).

    An hourly run changes a few keys of each input, yet a `table` model recomputes every row.
    A `keyed_replace` model names its inputs and, for each, the column by which a change of
    that input is known (`change_keys={'<model>': '<column>'}`); each input is fingerprinted
    per value of that column (row count and the sum of row hashes, keyed by the value's
    cityHash64), and the fingerprints of the last build are kept beside the model
    (`<schema>_changes.<model>__<input>`). The model's SQL says which of its rows a change can
    move, reading the changed values through `changed_keys('<input>')` (a subquery of the
    hashes), and selects only those rows; the materialization deletes the rows of the keys it
    selected (`unique_key`) and of the keys gone from `rows_from` (the input the rows are
    one-to-one with), then inserts the new rows. The fingerprints are written last, and a
    marker table stands while the rows are being replaced: a run that died anywhere leaves
    fingerprints that differ (recomputed next run) or the marker (the next run rebuilds
    everything). A full refresh, a first build, a missing fingerprint, or a change of the
    compiled SQL (model, macros or vars) rebuilds everything: every value counts as changed,
    so the model's SQL selects every row, and the result is the same table either way.

    In the model: config(materialized='keyed_replace', unique_key=..., rows_from=...,
    change_keys={...}), and the selection of the rows to recompute inside
    `{% call keyed_only() %}...{% endcall %}` (a first build or a full refresh has none). -#}

{#- The materialization's own tables, in a schema beside the model's: its schema holds models
    only (documented, checked). -#}
{% macro keyed_relation(suffix) -%}
    {{ return(this.incorporate(path={'schema': this.schema ~ '_changes',
                                     'identifier': this.identifier ~ '__' ~ suffix}, type='table')) }}
{%- endmacro %}

{#- The hashes of the `input`'s key values whose rows changed since the last build (all of
    them in a full rebuild), as a subquery for `cityHash64(<column>) in ...`. -#}
{% macro changed_keys(input) -%}
    (select key from {{ keyed_relation(input ~ '__changed') }})
{%- endmacro %}

{#- Whether this build may replace only some rows: the table exists and no full refresh
    was asked for. (The materialization may still rebuild everything: then every key counts
    as changed.) Unit tests override it to false. -#}
{% macro keyed_incremental() -%}
    {{ return(execute and not should_full_refresh() and load_relation(this) is not none) }}
{%- endmacro %}

{#- SQL that only a build replacing some rows needs (the selection of the rows a change can
    move); it reads `changed_keys()` and the model's previous rows (`this`). The markers let
    the definition hash ignore it. -#}
{% macro keyed_only() -%}
    {%- if keyed_incremental() -%} /* keyed_only */ {{ caller() }} /* end keyed_only */ {%- endif -%}
{%- endmacro %}

{#- The first column's values (the adapter returns no columns for no rows). -#}
{% macro _keyed_query(sql) %}
    {%- set result = run_query(sql) -%}
    {{ return(result.columns[0].values() | list if result.columns | length > 0 else []) }}
{% endmacro %}

{% materialization keyed_replace, adapter='clickhouse' %}
    {%- set target = this.incorporate(type='table') -%}
    {%- set existing = load_cached_relation(this) -%}
    {%- set key = config.require('unique_key') -%}
    {%- set rows_from = config.require('rows_from') -%}
    {%- set inputs = config.require('change_keys') -%}
    {%- if rows_from not in inputs -%}
        {{ exceptions.raise_compiler_error(this ~ ": rows_from '" ~ rows_from
           ~ "' must be one of change_keys (" ~ inputs.keys() | join(', ') ~ ")") }}
    {%- endif -%}
    {%- set known = [] -%}
    {%- for node in model.depends_on.nodes if node.startswith('model.') -%}
        {%- do known.append(graph.nodes[node].name) -%}
    {%- endfor -%}
    {%- for name in inputs if name not in known -%}
        {{ exceptions.raise_compiler_error(this ~ ": change_keys names '" ~ name
           ~ "', which the model does not ref") }}
    {%- endfor -%}
    {%- set writing = keyed_relation('writing') -%}
    {%- set new_data = keyed_relation('new_rows') -%}
    {%- set intermediate = make_intermediate_relation(target) -%}
    {%- set backup = make_backup_relation(target, 'table') -%}
    {#- The SQL without what only a partial build has (keyed_only). -#}
    {%- set parts = sql.split('/* keyed_only */') -%}
    {%- set stable = [parts[0]] -%}
    {%- for part in parts[1:] -%}
        {%- do stable.append(part.split('/* end keyed_only */', 1)[-1]) -%}
    {%- endfor -%}
    {%- set definition = local_md5(stable | join('')) -%}

    {% do adapter.create_schema(writing) %}
    {% for rel in [new_data, intermediate, backup] %}
        {% do adapter.drop_relation(rel) %}
    {% endfor %}
    {% for name in inputs %}
        {% do adapter.drop_relation(keyed_relation(name ~ '__next')) %}
        {% do adapter.drop_relation(keyed_relation(name ~ '__changed')) %}
    {% endfor %}
    {{ run_hooks(pre_hooks) }}

    {#- Each input's fingerprint per key now. -#}
    {% for name, column in inputs.items() %}
        {% call statement('fingerprint_' ~ name) %}
            create table {{ keyed_relation(name ~ '__next') }} {{ on_cluster_clause(target) }}
            engine = MergeTree() order by key
            as select cityHash64({{ column }}) as key, count() as rows,
                      sum(cityHash64(tuple(*))) as hash, '{{ definition }}' as definition
            from {{ ref(name) }}
            group by key
        {% endcall %}
    {% endfor %}

    {%- set state = namespace(full=should_full_refresh() or existing is none
        or adapter.get_relation(writing.database, writing.schema, writing.identifier) is not none) -%}
    {%- for name in inputs if not state.full -%}
        {%- set kept = keyed_relation(name) -%}
        {%- set state.full = adapter.get_relation(kept.database, kept.schema, kept.identifier) is none
            or _keyed_query("select count() from " ~ kept ~ " where definition != '"
                            ~ definition ~ "'")[0] > 0 -%}
    {%- endfor -%}
    {%- set full = state.full -%}

    {#- The changed keys of each input (`gone`: no rows of it now); every key in a rebuild
        whose SQL selects rows (a first build and a full refresh select none). -#}
    {% for name in inputs if not full or '/* keyed_only */' in sql %}
        {% call statement('changed_' ~ name) %}
            create table {{ keyed_relation(name ~ '__changed') }} {{ on_cluster_clause(target) }}
            engine = MergeTree() order by key as
            {% if full -%}
                select key, 0 as gone from {{ keyed_relation(name ~ '__next') }}
            {%- else -%}
                {#- Both are sorted by key: a merge join reads them once (a hash join or a
                    GROUP BY of both took 4-6 s for 9 M calls, this 0.7-1.3 s). -#}
                select if(n.rows = 0, s.key, n.key) as key, n.rows = 0 as gone
                from {{ keyed_relation(name ~ '__next') }} as n
                full outer join {{ keyed_relation(name) }} as s on s.key = n.key
                where n.rows != s.rows or n.hash != s.hash
                settings join_use_nulls = 0, join_algorithm = 'full_sorting_merge'
            {%- endif %}
        {% endcall %}
    {% endfor %}

    {#- Stands while rows are replaced: a run that dies before the end makes the next rebuild. -#}
    {% do adapter.drop_relation(writing) %}
    {% call statement('mark_writing') %}
        create table {{ writing }} {{ on_cluster_clause(target) }} (started DateTime)
        engine = MergeTree() order by tuple()
    {% endcall %}
    {% if existing is none %}
        {% call statement('main') %}{{ get_create_table_as_sql(False, target, sql) }}{% endcall %}
    {% elif full %}
        {% call statement('main') %}{{ get_create_table_as_sql(False, intermediate, sql) }}{% endcall %}
        {% if existing.can_exchange %}
            {% do adapter.rename_relation(intermediate, backup) %}
            {% do exchange_tables_atomic(backup, target) %}
        {% else %}
            {% do adapter.rename_relation(target, backup) %}
            {% do adapter.rename_relation(intermediate, target) %}
        {% endif %}
    {% else %}
        {% call statement('main') %}{{ get_create_table_as_sql(False, new_data, sql) }}{% endcall %}
        {%- set counts = _keyed_query("select toString(count()) from " ~ new_data) -%}
        {% call statement('delete_replaced') %}
            delete from {{ target }} {{ on_cluster_clause(target) }}
            where {{ key }} in (select {{ key }} from {{ new_data }})
               or cityHash64({{ key }}) in (
                   select key from {{ keyed_relation(rows_from ~ '__changed') }} where gone)
        {% endcall %}
        {% call statement('insert_new') %}
            insert into {{ target }} select * from {{ new_data }}
        {% endcall %}
        {{ log(this ~ ": replaced the rows of " ~ counts[0] ~ " key(s)", info=false) }}
    {% endif %}

    {#- The fingerprints last: a run that died before this point is redone by the next. -#}
    {% for name in inputs %}
        {% do adapter.drop_relation(keyed_relation(name)) %}
        {% do adapter.rename_relation(keyed_relation(name ~ '__next'), keyed_relation(name)) %}
        {% do adapter.drop_relation(keyed_relation(name ~ '__changed')) %}
    {% endfor %}
    {% for rel in [writing, new_data, backup] %}
        {% do adapter.drop_relation(rel) %}
    {% endfor %}

    {% do persist_docs(target, model) %}
    {{ run_hooks(post_hooks) }}
    {{ adapter.commit() }}
    {{ return({'relations': [target]}) }}
{% endmaterialization %}
