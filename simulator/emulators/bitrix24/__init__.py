"""Bitrix24 REST emulator: incoming-webhook URLs, list methods of 50, batch, leaky bucket.

Confirmed behaviour reproduced (SOURCE_APIS.md §2): `/rest/{user}/{code}/{method}.json`, POST
JSON or GET/form parameters in PHP style, pages of exactly 50 with `next` only when more rows
exist and `total`, `start=-1` (no count: total 0), string numbers in crm.deal.list and
voximplant.statistic.get but ints in crm.stagehistory.list, dates with the portal's offset,
batch of ≤50 commands with result/result_error/result_total/result_next/result_time (always
HTTP 200), 503 QUERY_LIMIT_EXCEEDED from a leaky bucket (50, drained 2/s), `{"error",
"error_description"}` bodies.

`router.py` holds the HTTP side (webhook auth, the bucket, method dispatch, batch, paging,
errors); `listing.py` the list methods' filter/order/select; the other modules build one
entity family's rows as of the clock and render its records.
"""
