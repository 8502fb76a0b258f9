"""The OData XML documents: the service document, `$metadata` (EDMX) and Atom feeds."""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import quote
from xml.sax.saxutils import escape

from funnelhouse.simulator.emulators.onec.entity import Entity

MS = "http://schemas.microsoft.com/ado"


def service(root: str, names: Iterable[str]) -> str:
    """The Atom service document listing the entity sets; `root` ends with standard.odata."""
    cols = "".join(
        f'<collection href="{escape(n)}"><atom:title>{escape(n)}</atom:title></collection>'
        for n in names
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><service xmlns="http://www.w3.org/2007/app" '
        f'xmlns:atom="http://www.w3.org/2005/Atom" xml:base="{root}/">'
        f"<workspace><atom:title>Default</atom:title>{cols}</workspace></service>"
    )


def metadata(entities: Iterable[Entity]) -> str:
    """EDMX with one EntityType per set and a ComplexType per tabular section."""
    types, sets, complex_types = [], [], []
    for e in entities:
        props = "".join(
            f'<Property Name="{escape(p)}" Type="{t}" Nullable="true"/>' for p, t in e.types.items()
        )
        for tname, cols in (e.table_types or {}).items():
            row_type = f"{e.name}_{tname}_RowType"
            inner = "".join(
                f'<Property Name="{escape(p)}" Type="{t}" Nullable="true"/>'
                for p, t in cols.items()
            )
            complex_types.append(f'<ComplexType Name="{escape(row_type)}">{inner}</ComplexType>')
            collection = f"Collection(StandardODATA.{escape(row_type)})"
            props += f'<Property Name="{escape(tname)}" Type="{collection}" Nullable="false"/>'
        types.append(
            f'<EntityType Name="{escape(e.name)}">'
            f'<Key><PropertyRef Name="Ref_Key"/></Key>{props}</EntityType>'
        )
        sets.append(
            f'<EntitySet Name="{escape(e.name)}" EntityType="StandardODATA.{escape(e.name)}"/>'
        )
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><edmx:Edmx xmlns:edmx="{MS}/2007/06/edmx" '
        f'Version="1.0"><edmx:DataServices xmlns:m="{MS}/2007/08/dataservices/metadata" '
        f'm:DataServiceVersion="3.0"><Schema xmlns="{MS}/2009/11/edm" '
        f'Namespace="StandardODATA">{"".join(types)}{"".join(complex_types)}'
        '<EntityContainer Name="StandardODATA" m:IsDefaultEntityContainer="true">'
        f"{''.join(sets)}"
        "</EntityContainer></Schema></edmx:DataServices></edmx:Edmx>"
    )


def atom(root: str, entity: Entity, records: list[dict]) -> str:
    """A feed of the records' scalar properties (tabular sections and links left out)."""
    entries = []
    for rec in records:
        props = "".join(
            f"<d:{escape(k)}>{escape(str(v))}</d:{escape(k)}>"
            for k, v in rec.items()
            if not isinstance(v, (list, dict)) and "@" not in k
        )
        entries.append(
            f"<entry><id>{root}/{quote(entity.name)}"
            f"(guid'{rec.get('Ref_Key')}')</id><content type=\"application/xml\">"
            f"<m:properties>{props}</m:properties></content></entry>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><feed xmlns="http://www.w3.org/2005/Atom" '
        'xmlns:d="http://schemas.microsoft.com/ado/2007/08/dataservices" '
        'xmlns:m="http://schemas.microsoft.com/ado/2007/08/dataservices/metadata">'
        f"<title>{escape(entity.name)}</title>{''.join(entries)}</feed>"
    )
