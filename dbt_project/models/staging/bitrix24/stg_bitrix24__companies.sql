-- Companies; the INN lives in the company's requisite (RQ_INN), not on the company.
with inns as (
    select concat('bitrix24:company:', JSONExtractString(payload, 'ENTITY_ID')) as company_id,
           any(nullIf(replaceRegexpAll(JSONExtractString(payload, 'RQ_INN'), '[^0-9]', ''), ''))
               as inn
    from {{ source('bitrix24', 'bitrix24__requisites') }} final
    where JSONExtractString(payload, 'ENTITY_TYPE_ID') = '4' and _is_deleted = 0
    group by company_id
)
select
    concat('bitrix24:company:', c.id) as company_id,
    JSONExtractString(c.payload, 'TITLE') as company_name,
    i.inn as inn,
    arrayFilter(p -> p != '', arrayMap(v -> {{ normalize_phone("JSONExtractString(v, 'VALUE')") }},
        JSONExtractArrayRaw(c.payload, 'PHONE'))) as phones
from {{ source('bitrix24', 'bitrix24__companies') }} as c final
left join inns as i on i.company_id = concat('bitrix24:company:', c.id)
where c._is_deleted = 0
