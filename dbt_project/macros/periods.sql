{#- Period cutting in the business time zone (METRICS.md: periods are cut there, timestamps
    are stored in UTC). -#}

{% macro local(ts) -%}
    toTimeZone({{ ts }}, '{{ var("business_timezone") }}')
{%- endmacro %}

{#- [(grain, period_start)] for the grains a mart serves; ARRAY JOIN it to fan a row out.
    `local_day`: `ts` is already a local date (a mart that aggregates per day first and then
    rolls the days up). -#}
{% macro period_starts(ts, grains=('day', 'week', 'month'), local_day=false) -%}
    [
    {%- for grain in grains %}
        ('{{ grain }}', {{ period_start(ts, grain, local_day) }}){% if not loop.last %},{% endif %}
    {%- endfor %}
    ]
{%- endmacro %}

{% macro period_start(ts, grain, local_day=false) -%}
    {%- set t = ts if local_day else local(ts) -%}
    {%- if grain == 'day' -%} toDate({{ t }})
    {%- elif grain == 'week' -%} toMonday({{ t }})
    {%- elif grain == 'month' -%} toStartOfMonth({{ t }})
    {%- else -%} {{ exceptions.raise_compiler_error("unknown grain " ~ grain) }}
    {%- endif -%}
{%- endmacro %}

{#- The first instant after a period (in UTC), from its grain and local start date. -#}
{% macro period_end_ts(grain_col, start_col) -%}
    toDateTime64(toDateTime(multiIf(
        {{ grain_col }} = 'day', {{ start_col }} + 1,
        {{ grain_col }} = 'week', {{ start_col }} + 7,
        addMonths({{ start_col }}, 1)
    ), '{{ var("business_timezone") }}'), 3, 'UTC')
{%- endmacro %}

{#- The segment pairs of METRICS.md; missing values are 'unknown', never NULL. -#}
{% macro segments(types=('manager', 'source', 'project', 'rating', 'pipeline'), with_all=true) -%}
    [
    {%- if with_all %}('all', 'all'){% if types %},{% endif %}{% endif %}
    {%- for t in types %}
        ('{{ t }}', ifNull(nullIf({{ t }}, ''), 'unknown')){% if not loop.last %},{% endif %}
    {%- endfor %}
    ]
{%- endmacro %}

{% macro safe_div(num, den) -%}
    if(({{ den }}) = 0, NULL, ({{ num }}) / ({{ den }}))
{%- endmacro %}
