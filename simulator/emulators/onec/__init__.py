"""1C:Enterprise standard OData (v3) emulator: counterparties, contracts, sales, bank receipts.

Confirmed behaviour reproduced (SOURCE_APIS.md §4): `/<infobase>/odata/standard.odata/<Set>`,
HTTP Basic auth, JSON only with `$format=json` (Atom XML otherwise), `{"odata.metadata",
"value"}` collections, `odata.count` as a string with `$inlinecount=allpages` (which, as the
42clouds manual says, makes the server ignore `$top`/`$skip`), no server-side paging, `$filter`
with v3 literals, `$select`, `$orderby`, `$top`, `$skip`, `$count`, `Set(guid'…')`,
`$metadata`, `odata.error` bodies, Int64 as strings, `_Key` references with
`@navigationLinkUrl`, the empty GUID and empty date, DataVersion changing on every write,
DeletionMark, tabular sections embedded with the parent Ref_Key and LineNumber, composite
references as `<Name>` + `<Name>_Type`, local time without offset.

`router.py` holds the HTTP side (auth, paths, query options, records, errors); `service.py`
the XML documents (service, $metadata, Atom); `catalogs.py` and `documents.py` build the
entity sets as of the clock from the values `entity.py` formats.
"""
