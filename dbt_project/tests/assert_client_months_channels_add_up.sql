-- Every communication is a call, a meeting or an e-mail: a channel added to
-- int_client_communications without a column of its own in int_client_months would be
-- counted in `communications` but in none of the channels client_communication shows.
select *
from {{ ref('int_client_months') }}
where communications != calls + meetings + emails
