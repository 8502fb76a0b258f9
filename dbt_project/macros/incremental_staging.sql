{#- Incremental staging: each run parses only the raw versions loaded since the last one.

    A staging table keeps `_raw_version` (raw's `_version`, the load order) of every row; the
    largest one is the table's watermark. An incremental run reads the raw rows above it (the
    newest version of each id among them), and dbt-clickhouse's delete+insert replaces the
    rows of those ids. A version that must not be in staging (deleted in the source, or no
    longer passing the model's filter) still enters the batch, as a tombstone
    (`_raw_deleted`), so that it replaces the old row; `drop_raw_tombstones` (a post-hook on
    every staging model) then deletes it. So a reader sees one row per id without FINAL, and
    a full refresh (raw read with FINAL, tombstones filtered) builds the same rows.
    Re-reading a version already applied is harmless (the same row replaces itself), so a
    watermark that drops when its tombstone is deleted only costs a re-read. -#}

{#- The raw rows to parse: every id's latest version (full refresh), or the latest version of
    each id loaded since the watermark (incremental). -#}
{% macro raw_versions(relation, alias=none) -%}
    {%- if is_incremental() -%}
    (
        select * from {{ relation }}
        where _version > (select max(_raw_version) from {{ this }})
        order by _version desc
        limit 1 by id
    ){{ ' as ' ~ alias if alias }}
    {%- else -%}
    {{ relation }}{{ ' as ' ~ alias if alias }} final
    {%- endif -%}
{%- endmacro %}

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
