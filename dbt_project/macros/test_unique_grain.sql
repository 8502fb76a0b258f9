{#- The grain of a mart: no two rows share these columns (like dbt_utils'
    unique_combination_of_columns, without a package download). -#}
{% test unique_grain(model, columns) %}
select {{ columns | join(', ') }}, count() as n
from {{ model }}
group by {{ columns | join(', ') }}
having n > 1
{% endtest %}
