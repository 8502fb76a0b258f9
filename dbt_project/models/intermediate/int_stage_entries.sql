-- Every time a deal entered a stage, in every CRM, the stage it was created in first (each
-- CRM's staging folder knows how its history names that stage); `ord` orders entries that
-- share an instant.
select deal_id, entered_at, stage_key, ord from (
    {{ union_crms('stage_entries', ['deal_id', 'entered_at', 'stage_key', 'ord']) }}
)
