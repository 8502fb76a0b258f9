{#- Incremental staging: each run parses only the raw versions loaded since the last one.

    A staging table keeps `_raw_version` (raw's `_version`, the load order) of every row; the
    largest one is the table's watermark. An incremental run reads the raw rows above it (the
    newest version of each id among them), and the delete+insert below replaces the rows
    of those ids. A version that must not be in staging (deleted in the source, or no
    longer passing the model's filter) still enters the batch, as a tombstone
    (`_raw_deleted`), so that it replaces the old row; `drop_raw_tombstones` (a post-hook on
    every staging model) then deletes it. So a reader sees one row per id without FINAL, and
    a full refresh (raw read with FINAL, tombstones filtered) builds the same rows.
    Re-reading a version already applied is harmless (the same row replaces itself), so a
    watermark that drops when its tombstone is deleted only costs a re-read.

    The watermark is read once, when the model is rendered, and written into its SQL as a
    number, so dbt's log of a run shows which versions it read. -#}

{#- The raw rows to parse: every id's latest version (full refresh), or the latest version of
    each id loaded since the watermark (incremental). -#}
{% macro raw_versions(relation, alias=none) -%}
    {%- if is_incremental() -%}
    (
        select * from {{ relation }}
        where _version > {{ raw_watermark() }}
        order by _version desc
        limit 1 by id
    ){{ ' as ' ~ alias if alias }}
    {%- else -%}
    {{ relation }}{{ ' as ' ~ alias if alias }} final
    {%- endif -%}
{%- endmacro %}

{#- The largest raw version this model holds (0 while it renders without a warehouse). -#}
{% macro raw_watermark() -%}
    {%- if execute -%}
        {{ run_query('select max(_raw_version) from ' ~ this).columns[0].values()[0] }}
    {%- else -%}
        0
    {%- endif -%}
{%- endmacro %}

{#- dbt-clickhouse's delete+insert, in the statements a staging batch needs. Its own version
    drops a leftover new-data table, writes the batch into a new one (sorted like the target),
    reads its columns, deletes, reads the target's columns, inserts from the new table and
    drops two tables: nine statements, each a round trip, at small scale as costly as the
    hour's batch itself. Here the batch is written once into an unsorted table, its ids are
    deleted from the target, the batch is inserted and its table dropped. The batch is read
    from raw once: raw is sorted by id, so the hour's versions lie in nearly every granule and
    each read of them decompresses the whole payload column (reading it twice, for the delete
    and for the insert, made the staging models of the incremental job at scale 100 take 40 s
    of the dbt threads instead of 16 s). A run that dies between the delete and the insert
    leaves those ids without rows until the next run, which reads their versions again (they
    are above the watermark left); a batch table left behind is replaced by the next run. -#}
{% macro clickhouse__incremental_delete_insert(existing_relation, unique_key, incremental_predicates, is_distributed=False) %}
    {%- if is_distributed or incremental_predicates -%}
        {{ exceptions.raise_compiler_error(this ~ ": funnelhouse's delete+insert (macros/"
           ~ "incremental_staging.sql) serves local tables without incremental predicates") }}
    {%- endif -%}
    {%- set batch = existing_relation.incorporate(
            path={'identifier': existing_relation.identifier ~ '__batch'}) -%}
    {% call statement('main') %}
        create or replace table {{ batch }} engine = MergeTree order by tuple()
        as {{ sql }}
        {{ adapter.get_model_query_settings(model) }}
    {% endcall %}
    {% call statement('delete_existing_data') %}
        delete from {{ existing_relation }}
        where ({{ unique_key }}) in (select {{ unique_key }} from {{ batch }})
        {{ adapter.get_model_query_settings(model) }}
    {% endcall %}
    {%- set columns = adapter.get_columns_in_relation(existing_relation)
                      | map(attribute='quoted') | join(', ') -%}
    {% call statement('insert_new_data') %}
        insert into {{ existing_relation }} ({{ columns }})
        select {{ columns }} from {{ batch }}
        {{ adapter.get_model_query_settings(model) }}
    {% endcall %}
    {% call statement('drop_batch') %}
        drop table {{ batch }}
    {% endcall %}
{% endmacro %}

{#- The watermark and tombstone columns. `keep`: the model's row filter; `drops_deleted`:
    whether a record deleted in the source leaves staging (false where staging keeps it,
    flagged is_deleted, for audit). -#}
{% macro raw_version_columns(keep='true', drops_deleted=true, prefix='') -%}
    {{ prefix }}_version as _raw_version,
    ({{ prefix ~ '_is_deleted = 1 or ' if drops_deleted }}not ({{ keep }})) as _raw_deleted
{%- endmacro %}

{#- The WHERE condition of a staging model: a full refresh writes no tombstones; an
    incremental run needs them until the delete of the rows they replace. -#}
{% macro raw_live_rows() -%}
    {{ 'true' if is_incremental() else 'not _raw_deleted' }}
{%- endmacro %}

{#- Post-hook: delete the tombstones an incremental run wrote (nothing when there are none). -#}
{% macro drop_raw_tombstones() -%}
    {%- if execute and config.get('materialized') == 'incremental'
          and model.fqn[1] == 'staging' -%}
        {%- set found = run_query('select count() from ' ~ this ~ ' where _raw_deleted') -%}
        {%- if found.columns[0].values()[0] > 0 -%}
    delete from {{ this }} where _raw_deleted
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}
