{#- Row-level replace for a model whose rows depend on a few keyed inputs (int_calls).

    An hourly run changes a few deals, phones and calls, yet a `table` model recomputes every
    row. A `key_replace` model recomputes only the rows whose inputs changed and copies the
    others from its last build. Each input (every model it reads) is fingerprinted per bucket
    of one key column (`input_keys`: model name -> key column; a bucket is cityHash64 of the
    key, its fingerprint the row count and the sum of the rows' hashes), and the fingerprints
    of the last build are kept beside it (`<schema>_changes.<model>__keys__<input>`). A run
    compares them: the buckets that differ are the changed keys of each input.

    The model says which rows those keys can change, inside `{% call changes_only() %}`: a
    condition on its driving rows written with `key_changed('<column>', '<input>')`. It must
    select the row of every key whose output may differ (a row attributed to a changed deal,
    a call whose phone has a changed deal list, ...); the build is then the old rows except
    the recomputed ones and those of removed keys (changed keys of an input keyed by the
    model's `unique_key`), plus the recomputed rows, and it equals a full build
    (tests/dbt/test_incremental_matches_full.py).

    Swapped in whole (EXCHANGE TABLES), then the fingerprints are written: a run that dies
    before that leaves the old fingerprints, and the next run recomputes those rows again. A
    full refresh, a first build, lost fingerprints, an edit of the model or a change of its
    compiled SQL (macros, vars) recompute every row, to the same table; so does every build
    while the model holds fewer than `key_replace_min_rows` rows (a var), keeping no
    fingerprints.
    `<model>__last_build` records which it was and how many rows were recomputed. -#}

{% macro key_replace_relation(suffix) -%}
    {{ return(this.incorporate(path={'schema': this.schema ~ '_changes',
                                     'identifier': this.identifier ~ '__' ~ suffix}, type='table')) }}
{%- endmacro %}

{#- Whether this build recomputes only changed rows: decided when the model is compiled, as
    dbt's is_incremental() is, and only once the model holds `key_replace_min_rows` rows (a
    var): below, rebuilding it whole costs less than finding what changed. The run may still
    recompute every row (see above). -#}
{% macro key_replace_changes() -%}
    {%- if not execute or model.config.materialized != 'key_replace' or should_full_refresh() -%}
        {{ return(false) }}
    {%- endif -%}
    {%- set existing = adapter.get_relation(this.database, this.schema, this.identifier) -%}
    {%- if existing is none or existing.type != 'table' -%}
        {{ return(false) }}
    {%- endif -%}
    {{ return(_key_replace_rows(this) >= _key_replace_min_rows()) }}
{%- endmacro %}

{#- count(), not system.tables' total_rows: that still counts the rows a lightweight DELETE
    of a changes build masked until a merge drops them. -#}
{% macro _key_replace_rows(relation) -%}
    {{ return(query_column("select count() from " ~ relation)[0]) }}
{%- endmacro %}

{% macro _key_replace_min_rows() -%}
    {%- set min_rows = var('key_replace_min_rows') -%}
    {%- if min_rows is not number or min_rows < 0 or min_rows != min_rows | int -%}
        {{ exceptions.raise_compiler_error("var key_replace_min_rows must be a whole number of "
           ~ "rows, 0 or more; got " ~ min_rows) }}
    {%- endif -%}
    {{ return(min_rows | int) }}
{%- endmacro %}

{#- In a model's driving rows (`rows_of`, the relation it selects from), the condition that
    picks the rows to recompute; nothing in a full build. The materialization evaluates it
    once into `<model>__redo` (the query travels in a comment of the compiled SQL) and the
    model reads that set: a CTE ClickHouse evaluates at each use would evaluate it each time.
    Without `rows_of`, a plain condition (`keyword` 'and' to extend a where clause). A run that
    must recompute everything marks its changes with input '*'. -#}
{% macro changes_only(keyword='where', rows_of=none) -%}
    {%- if key_replace_changes() -%}
        {%- set condition = caller() -%}
        {%- if '/*' in condition or '*/' in condition -%}
            {{ exceptions.raise_compiler_error(this ~ ": a changes_only() condition may not hold "
               ~ "/* comments */ (it travels in one)") }}
        {%- endif -%}
        {%- set key = config.get('unique_key') -%}
        {%- set all = "(select count() from " ~ key_replace_relation('changed') ~ " where input = '*') > 0" -%}
        /* changes only: */ {{ keyword }} ({{ all }} or
        {%- if rows_of is none %} ({{ condition }}))
        {%- else %} {{ key }} in (select {{ key }} from {{ key_replace_relation('redo') }}))
            /* redo: select {{ key }} from {{ rows_of }} where {{ condition }} :redo */
        {%- endif %} /* :changes only */
    {%- endif -%}
{%- endmacro %}

{#- Whether `column`'s value is a changed key of `input` (or shares its bucket). -#}
{% macro key_changed(column, input) -%}
    cityHash64({{ column }}) in (select bucket from {{ key_replace_relation('changed') }}
                                 where input = '{{ input }}')
{%- endmacro %}

{#- Each input's fingerprint per key bucket now, sorted by bucket for a merge with the last
    build's. -#}
{% macro _key_replace_fingerprint(input_keys, target) %}
    {% for name, key in input_keys.items() %}
        {% call statement('fingerprint_' ~ name) %}
            create table {{ key_replace_relation('keys_next__' ~ name) }} {{ on_cluster_clause(target) }}
            engine = MergeTree() order by bucket
            as select cityHash64({{ key }}) as bucket,
                      cityHash64(count(), sum(cityHash64(tuple(*)))) as fingerprint
            from {{ ref(name) }}
            group by bucket
        {% endcall %}
    {% endfor %}
{% endmacro %}

{% materialization key_replace, adapter='clickhouse' %}
    {%- set target = this.incorporate(type='table') -%}
    {%- set existing = load_cached_relation(this) -%}
    {%- set unique_key = config.require('unique_key') -%}
    {%- set input_keys = config.require('input_keys') -%}
    {%- set parents = [] -%}
    {%- for node in model.depends_on.nodes if node.startswith('model.') -%}
        {%- do parents.append(graph.nodes[node].name) -%}
    {%- endfor -%}
    {%- if parents | sort != input_keys.keys() | list | sort -%}
        {{ exceptions.raise_compiler_error(this ~ ": input_keys must name a key column for each "
           ~ "model it reads and no other; it reads " ~ parents | sort | join(', ')
           ~ ", input_keys names " ~ input_keys.keys() | list | sort | join(', ')) }}
    {%- endif -%}
    {#- The inputs whose changed keys are the model's own: their removed keys remove rows. -#}
    {%- set own_keys = [] -%}
    {%- for name, key in input_keys.items() if key == unique_key -%}
        {%- do own_keys.append(name) -%}
    {%- endfor -%}
    {%- set changed = key_replace_relation('changed') -%}
    {%- set recomputed = key_replace_relation('recomputed') -%}
    {%- set definition_rel = key_replace_relation('definition') -%}
    {%- set last_build = key_replace_relation('last_build') -%}
    {%- set intermediate = make_intermediate_relation(target) -%}
    {%- set backup = make_backup_relation(target, 'table') -%}
    {#- The compiled SQL less what only a changes build has, and the model's own text: an
        edited changes_only() condition rebuilds whole too (a narrower one may have missed rows). -#}
    {%- set definition = local_md5(modules.re.sub('/\\* changes only: \\*/.*?/\\* :changes only \\*/',
                                                   '', sql, flags=modules.re.S) ~ model.raw_code) -%}

    {% do adapter.create_schema(changed) %}
    {% for rel in [recomputed, intermediate, backup] %}
        {% do adapter.drop_relation(rel) %}
    {% endfor %}
    {% for name in input_keys %}
        {% do adapter.drop_relation(key_replace_relation('keys_next__' ~ name)) %}
    {% endfor %}
    {{ run_hooks(pre_hooks) }}

    {%- set changes = key_replace_changes() -%}
    {% if changes %}
        {% do _key_replace_fingerprint(input_keys, target) %}
    {% endif %}

    {%- set full = not changes -%}
    {%- if changes -%}
        {%- set kept = [adapter.get_relation(definition_rel.database, definition_rel.schema,
                                             definition_rel.identifier)] -%}
        {%- for name in input_keys -%}
            {%- set rel = key_replace_relation('keys__' ~ name) -%}
            {%- do kept.append(adapter.get_relation(rel.database, rel.schema, rel.identifier)) -%}
        {%- endfor -%}
        {%- set full = none in kept
            or query_column("select count() from " ~ definition_rel ~ " where definition = '"
                                  ~ definition ~ "'")[0] == 0 -%}
    {%- endif -%}

    {% do adapter.drop_relation(changed) %}
    {% call statement('changed') %}
        create table {{ changed }} {{ on_cluster_clause(target) }} (input String, bucket UInt64)
        engine = MergeTree() order by (input, bucket)
    {% endcall %}
    {% if full and changes %}
        {% call statement('changed_all') %}
            insert into {{ changed }} values ('*', 0)
        {% endcall %}
    {% elif not full %}
        {% for name in input_keys %}
            {% call statement('changed_' ~ name) %}
                insert into {{ changed }}
                select '{{ name }}', bucket
                from {{ key_replace_relation('keys_next__' ~ name) }} as n
                full outer join {{ key_replace_relation('keys__' ~ name) }} as s using (bucket)
                where n.fingerprint != s.fingerprint
                settings join_use_nulls = 0, join_algorithm = 'full_sorting_merge'
            {% endcall %}
        {% endfor %}
    {% endif %}

    {#- The keys to recompute, evaluated once (see changes_only). -#}
    {%- set redo = key_replace_relation('redo') -%}
    {% do adapter.drop_relation(redo) %}
    {%- set queries = modules.re.findall('/\\* redo: (.*?) :redo \\*/', sql, flags=modules.re.S) -%}
    {%- if queries | length > 1 -%}
        {{ exceptions.raise_compiler_error(this ~ ": one changes_only(rows_of=...) per model, "
           ~ "found " ~ queries | length) }}
    {%- endif -%}
    {% if changes %}
        {% call statement('redo') %}
            create table {{ redo }} {{ on_cluster_clause(target) }} engine = MergeTree() order by tuple() as
            {% if full or not queries -%}
                select {{ unique_key }} from {{ target }} where 0
            {%- else -%}
                {{ queries[0] }}
            {%- endif %}
        {% endcall %}
    {% endif %}

    {% if full %}
        {% call statement('main') %}
            {{ get_create_table_as_sql(False, intermediate, sql) }}
        {% endcall %}
    {% else %}
        {% call statement('recompute') %}
            create table {{ recomputed }} {{ on_cluster_clause(target) }}
            engine = MergeTree() order by tuple() as {{ sql }}
        {% endcall %}
        {#- The last build's parts, hard-linked into a table like it (no row is copied), less
            the recomputed rows and those of removed keys (a lightweight delete marks them),
            plus the recomputed rows. -#}
        {% call statement('clone') %}
            create table {{ intermediate }} {{ on_cluster_clause(target) }} as {{ target }}
        {% endcall %}
        {%- set partitions = query_column(
            "select distinct partition_id from system.parts where active and database = '"
            ~ target.schema ~ "' and table = '" ~ target.identifier ~ "' order by partition_id") -%}
        {% if partitions %}
            {% call statement('clone_parts') %}
                alter table {{ intermediate }} {{ on_cluster_clause(target) }}
                {%- for partition in partitions %}
                    attach partition id '{{ partition }}' from {{ target }}{{ ',' if not loop.last }}
                {%- endfor %}
            {% endcall %}
        {% endif %}
        {% call statement('drop_changed_rows') %}
            delete from {{ intermediate }} {{ on_cluster_clause(target) }}
            where {{ unique_key }} in (select {{ unique_key }} from {{ recomputed }})
            {%- for name in own_keys %}
               or {{ key_changed(unique_key, name) }}
            {%- endfor %}
        {% endcall %}
        {% call statement('main') %}
            insert into {{ intermediate }} select * from {{ recomputed }}
        {% endcall %}
    {% endif %}

    {% do swap_in(existing, intermediate, target, backup) %}

    {#- The fingerprints last: a run that died before this point is redone by the next. A
        whole build fingerprints the inputs now if the next run may recompute only changes;
        else it drops them, lest a later run compare with fingerprints older than the rows. -#}
    {%- set rows = _key_replace_rows(target) -%}
    {%- set keep = changes or rows >= _key_replace_min_rows() -%}
    {% if keep and not changes %}
        {% do _key_replace_fingerprint(input_keys, target) %}
    {% endif %}
    {% do adapter.drop_relation(definition_rel) %}
    {% for name in input_keys %}
        {% do adapter.drop_relation(key_replace_relation('keys__' ~ name)) %}
        {% if keep %}
            {% do adapter.rename_relation(key_replace_relation('keys_next__' ~ name),
                                          key_replace_relation('keys__' ~ name)) %}
        {% endif %}
    {% endfor %}
    {% if keep %}
        {% call statement('definition') %}
            create table {{ definition_rel }} {{ on_cluster_clause(target) }}
            engine = MergeTree() order by tuple() as select '{{ definition }}' as definition
        {% endcall %}
    {% endif %}
    {% do adapter.drop_relation(last_build) %}
    {% call statement('last_build') %}
        create table {{ last_build }} {{ on_cluster_clause(target) }}
        engine = MergeTree() order by tuple()
        as select {{ 1 if full else 0 }} as full,
                  (select count() from {{ changed }} where input != '*') as changed_keys,
                  (select count() from {{ target if full else recomputed }}) as recomputed_rows,
                  (select count() from {{ target }}) as rows
    {% endcall %}
    {{ log(this ~ (": recomputed every row" if full else ": recomputed the rows of changed keys"),
           info=false) }}
    {% for rel in [recomputed, redo, backup] %}
        {% do adapter.drop_relation(rel) %}
    {% endfor %}

    {% do persist_docs(target, model) %}
    {{ run_hooks(post_hooks) }}
    {{ adapter.commit() }}
    {{ return({'relations': [target]}) }}
{% endmaterialization %}
