{% set inn = var('amocrm_company_inn_field') %}
select
    concat('amocrm:', id) as company_id,
    JSONExtractString(payload, 'name') as company_name,
    nullIf(replaceRegexpAll({{ amocrm_field('payload', inn) }}, '[^0-9]', ''), '') as inn,
    {{ amocrm_field_values('payload', 'PHONE') }} as phones
from {{ source('amocrm', 'amocrm__companies') }} final
where _is_deleted = 0
