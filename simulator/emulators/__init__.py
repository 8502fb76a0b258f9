"""Loopback HTTP emulators of amoCRM v4, Bitrix24 REST, UIS Data API v2.0 and 1C OData.

Start them with `funnelhouse.simulator.emulators.server.start_emulators()`; see
`faults.py` for the switchable faults and README.md in simulator/ for the admin endpoints.
"""
