{#- Partition-level replace for marts cut into periods (day, week, month) of one input's time.

    An hourly run changes few periods, yet a `table` mart re-aggregates the whole history.
    A `period_replace` mart is partitioned by the month of `period_start` and rebuilt only in
    the months whose input rows changed. Its one input (a model, timed by `period_ts`) is
    fingerprinted per month a row feeds (row count and the sum of row hashes; a row feeds the
    month of its local day and the month of its week's Monday), and the fingerprints of the
    last build are kept beside it (`<schema>_periods.<mart>__periods`). A run recomputes the
    months whose fingerprint differs, from the input rows that feed them, and swaps each one
    in with REPLACE PARTITION (a month left without rows is dropped); every other month keeps
    its rows. The fingerprints are written last, so a run that dies anywhere leaves months
    that differ, and the next run recomputes them. A full refresh, a first build, or a change
    of the compiled SQL (model, macros or vars) rebuilds everything, and the result is the
    same table either way.

    The months to rebuild are computed a few at a time (var `period_months_per_batch`), each
    batch inserted beside the others before anything is swapped in: the whole history in one
    statement held every day's groups at once (scale 100: a 10 GB peak for call_load_by_stage).
    A batch reads only the input rows of its time range (a row feeds its local day's month and
    its week's Monday's, a few days before: the range is widened by days on both sides) and the
    input's sort key by time prunes the rest.

    In the model: config(materialized='period_replace', period_ts='<column>',
    partition_by=period_partition_by()), and read the input as
    `from {{ period_rows(ref('<model>')) }}`. The materialization keeps only the rows of the
    months it rebuilds. -#}

{% macro period_partition_by() -%}
    toYYYYMM(period_start)
{%- endmacro %}

{#- The months (as toYYYYMM) a row at `ts` feeds: its day's and month's, and its week's. -#}
{% macro period_months(ts) -%}
    arrayDistinct([toYYYYMM({{ period_start(ts, 'day') }}), toYYYYMM({{ period_start(ts, 'week') }})])
{%- endmacro %}

{#- The materialization's own tables, in a schema beside the mart's (`<schema>_periods`): the
    mart's schema holds marts only (published, documented, checked). -#}
{% macro period_relation(suffix) -%}
    {{ return(this.incorporate(path={'schema': this.schema ~ '_periods',
                                     'identifier': this.identifier ~ '__' ~ suffix}, type='table')) }}
{%- endmacro %}

{#- The first instant (UTC) of a month given as toYYYYMM; an empty batch (0) gives 1970-01. -#}
{% macro _period_month_start(yyyymm) -%}
    toDateTime(makeDate(greatest(intDiv({{ yyyymm }}, 100), 1970), greatest({{ yyyymm }} % 100, 1), 1), 'UTC')
{%- endmacro %}

{#- The input rows feeding the batch of months being rebuilt. -#}
{% macro period_rows(input) -%}
    {#- sqlfluff's stand-in for dbt's `config` has no `get`: lint sees the column's name. -#}
    {%- set ts = config.get('period_ts') if config.get is defined else 'period_ts' -%}
    {%- set batch = period_relation('batch') %}
    (
        select * from {{ input }}
        where {{ ts }} >= (select {{ _period_month_start('min(month)') }} - toIntervalDay(2)
                           from {{ batch }})
          and {{ ts }} < (select addMonths({{ _period_month_start('max(month)') }}, 1)
                                 + toIntervalDay(9) from {{ batch }})
          and hasAny({{ period_months(ts) }}, (select groupArray(month) from {{ batch }}))
    )
{%- endmacro %}

{% materialization period_replace, adapter='clickhouse' %}
    {%- set target = this.incorporate(type='table') -%}
    {%- set existing = load_cached_relation(this) -%}
    {%- set parents = [] -%}
    {%- for node in model.depends_on.nodes if node.startswith('model.') -%}
        {%- do parents.append(node) -%}
    {%- endfor -%}
    {%- if parents | length != 1 -%}
        {{ exceptions.raise_compiler_error(this ~ ": a period_replace model reads one model, "
           ~ "read through period_rows(); it depends on " ~ parents | join(', ')) }}
    {%- endif -%}
    {%- set input = ref(graph.nodes[parents[0]].name) -%}
    {%- set state = period_relation('periods') -%}
    {%- set next_state = period_relation('periods_next') -%}
    {%- set changed = period_relation('changed') -%}
    {%- set new_data = period_relation('new_periods') -%}
    {%- set intermediate = make_intermediate_relation(target) -%}
    {%- set backup = make_backup_relation(target, 'table') -%}
    {%- set definition = local_md5(sql) -%}
    {%- if config.get('partition_by') != period_partition_by() -%}
        {{ exceptions.raise_compiler_error(this ~ ": a period_replace model needs partition_by="
           ~ "period_partition_by() ('" ~ period_partition_by() ~ "'), got "
           ~ config.get('partition_by')) }}
    {%- endif -%}

    {% do adapter.create_schema(state) %}
    {%- set batch = period_relation('batch') -%}
    {% for rel in [next_state, changed, batch, new_data, intermediate, backup] %}
        {% do adapter.drop_relation(rel) %}
    {% endfor %}
    {{ run_hooks(pre_hooks) }}

    {#- The input's fingerprint per month now, and whether the last build's can be compared. -#}
    {% call statement('fingerprint') %}
        create table {{ next_state }} {{ on_cluster_clause(target) }}
        engine = MergeTree() order by month
        as select month, count() as rows, sum(row_hash) as hash, '{{ definition }}' as definition
        from (
            select cityHash64(tuple(*)) as row_hash, {{ period_months(config.get('period_ts')) }} as months
            from {{ input }}
        )
        array join months as month
        group by month
    {% endcall %}
    {%- set full = should_full_refresh() or existing is none -%}
    {%- if not full -%}
        {%- set kept = adapter.get_relation(state.database, state.schema, state.identifier)
            is not none -%}
        {%- set key = query_column(
            "select partition_key from system.tables where database = '" ~ target.schema
            ~ "' and name = '" ~ target.identifier ~ "'") -%}
        {#- A table built before it became a period_replace model has another partition key
            (the server writes this one in parentheses). -#}
        {%- set full = not kept or key | list != ['(' ~ period_partition_by() ~ ')']
            or query_column("select count() from " ~ state ~ " where definition != '"
                             ~ definition ~ "'")[0] > 0 -%}
    {%- endif -%}
    {% call statement('changed') %}
        create table {{ changed }} {{ on_cluster_clause(target) }} engine = MergeTree() order by month as
        {% if full -%}
            select month from {{ next_state }}
        {%- else -%}
            select greatest(n.month, s.month) as month
            from {{ next_state }} as n
            full outer join {{ state }} as s on s.month = n.month
            where n.rows != s.rows or n.hash != s.hash
            settings join_use_nulls = 0
        {%- endif %}
    {% endcall %}
    {%- set rebuilt -%}
        select * from ({{ sql }}) where {{ period_partition_by() }} in (select month from {{ batch }})
    {%- endset -%}
    {%- set months = query_column("select month from " ~ changed ~ " order by month") -%}
    {%- set per_batch = var('period_months_per_batch') -%}
    {%- if per_batch is not number or per_batch < 1 or per_batch != per_batch | int -%}
        {{ exceptions.raise_compiler_error(this ~ ": var period_months_per_batch must be a "
           ~ "whole number of months, 1 or more; got " ~ per_batch) }}
    {%- endif -%}
    {%- set batches = months | batch(per_batch | int) | list or [[]] -%}
    {%- set into = target if existing is none else intermediate if full else new_data -%}
    {% call statement('batch_table') %}
        create table {{ batch }} {{ on_cluster_clause(target) }} (month UInt32)
        engine = MergeTree() order by month
    {% endcall %}
    {% for months_of_batch in batches %}
        {% if months_of_batch %}
            {% call statement('batch_months') %}
                insert into {{ batch }} values ({{ months_of_batch | join('), (') }})
            {% endcall %}
        {% endif %}
        {% call statement('main' if loop.last else 'batch') %}
            {%- if loop.first -%}
                {{ get_create_table_as_sql(False, into, rebuilt) }}
            {%- else -%}
                insert into {{ into }} {{ rebuilt }}
            {%- endif -%}
        {% endcall %}
        {% if not loop.last %}
            {% call statement('batch_clear') %}truncate table {{ batch }} {{ on_cluster_clause(target) }}{% endcall %}
        {% endif %}
    {% endfor %}

    {% if existing is not none and full %}
        {% do swap_in(existing, intermediate, target, backup) %}
    {% elif existing is not none %}
        {#- A changed month the rebuild left without rows is dropped (REPLACE PARTITION from an
            empty source is refused by ClickHouse 26.6+). -#}
        {%- set filled = query_column("select distinct " ~ period_partition_by() ~ " from "
                                       ~ new_data) | list -%}
        {% if months | length > 0 %}
            {% call statement('replace_partitions') %}
                alter table {{ target }} {{ on_cluster_clause(target) }}
                {%- for month in months %}
                    {{ 'replace' if month in filled else 'drop' }} partition {{ month }}
                    {{- ' from ' ~ new_data if month in filled }}{{ ',' if not loop.last }}
                {%- endfor %}
            {% endcall %}
        {% endif %}
        {{ log(this ~ ": rebuilt " ~ months | length ~ " month(s) of its periods", info=false) }}
    {% endif %}

    {#- The fingerprints last: a run that died before this point is redone by the next. -#}
    {% do adapter.drop_relation(state) %}
    {% do adapter.rename_relation(next_state, state) %}
    {% for rel in [changed, batch, new_data, backup] %}
        {% do adapter.drop_relation(rel) %}
    {% endfor %}

    {% do persist_docs(target, model) %}
    {{ run_hooks(post_hooks) }}
    {{ adapter.commit() }}
    {{ return({'relations': [target]}) }}
{% endmaterialization %}
