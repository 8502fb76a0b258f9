-- conversion_<N>d is NULL exactly when the cohort has not had N days to mature
-- (cohort end + N days > as_of), and never NULL otherwise (cohorts always have leads).
{% set horizons = [7, 30, 60, 90] %}
select cohort_grain, cohort_start, segment_type, segment_value
from {{ ref('conversion_cohort') }}
where
{% for n in horizons %}
    (conversion_{{ n }}d is null) != ({{ period_end_ts('cohort_grain', 'cohort_start') }}
        + toIntervalDay({{ n }}) > as_of)
    {% if not loop.last %}or{% endif %}
{% endfor %}
