"""amoCRM REST API v4 emulator (Bearer token, hal+json, page/limit paging, 204 past the end).

Confirmed behaviour reproduced (SOURCE_APIS.md §1): the `{_page, _links, _embedded}` envelope,
no `_links.next` on the last page, HTTP 204 with an empty body past the end or when a filter
matches nothing, no total count, limit ≤ 250 (events ≤ 100, the RU docs' value), unix-second
timestamps, 142/143 in every pipeline, `with=only_deleted`, call notes carrying the PBX call id
in `params.uniq`, a non-JSON 429 over 7 requests a second, problem+json errors.

`router.py` holds the HTTP side (paths, auth, limits, paging envelope, errors); the other
modules build one entity family's rows as of the clock, filter them and render records.
"""
