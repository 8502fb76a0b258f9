-- The clients (contacts and companies) of every CRM's deals; client_key is unique across
-- client types, whose ids may repeat between contacts and companies of one CRM. One row per
-- deal and client (each CRM's model lists a client of a deal once), which
-- int_client_communications relies on.
select deal_id, client_type, client_id, concat(client_type, '|', client_id) as client_key
from ({{ union_crms('deal_clients', ['deal_id', 'client_type', 'client_id']) }})
