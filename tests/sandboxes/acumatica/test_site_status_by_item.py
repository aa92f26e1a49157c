"""INSiteStatus read for a page of items (``$filter`` of or-ed ``InventoryID``s): the rows of
those items in every warehouse, the same as the full read filtered, with the quantity columns
of the DAC and the warehouse code through ``INSiteBySiteID``."""

from __future__ import annotations

import requests

from .client import Api

AUTH = ("admin", "sandbox")


def site_status(api: Api, **params: object) -> list[dict]:
    answer = requests.get(
        f"{api.url}/t/Company/api/odata/dac/INSiteStatus", params=params, auth=AUTH, timeout=10
    )
    answer.raise_for_status()
    return answer.json()["value"]


def item_ids(api: Api, *skus: str) -> dict[str, int]:
    rows = requests.get(
        f"{api.url}/t/Company/api/odata/dac/InventoryItem",
        params={"$select": "InventoryID,InventoryCD"},
        auth=AUTH,
        timeout=10,
    ).json()["value"]
    return {r["InventoryCD"]: r["InventoryID"] for r in rows if r["InventoryCD"] in skus}


def test_or_ed_inventory_ids_answer_every_warehouse_of_those_items(api: Api) -> None:
    ids = item_ids(api, "AA-0001", "AA-0002")
    assert len(ids) == 2
    select = "InventoryID,SiteID,QtyOnHand,QtyAvail,QtyHardAvail"
    everything = site_status(api, **{"$select": select})
    wanted = " or ".join(f"(InventoryID eq {i})" for i in ids.values())

    some = site_status(api, **{"$filter": wanted, "$select": select})

    assert sorted(some, key=str) == sorted(
        (r for r in everything if r["InventoryID"] in ids.values()), key=str
    )
    assert len(some) == 4  # two items, two warehouses


def test_item_filter_and_ed_with_more_conditions_and_expanded_site_codes(api: Api) -> None:
    [item] = item_ids(api, "AA-0003").values()
    rows = site_status(
        api,
        **{
            "$filter": f"(InventoryID eq {item}) and (QtyOnHand ge 0)",
            "$select": "InventoryID,QtyAvail",
            "$expand": "INSiteBySiteID($select=SiteCD)",
        },
    )
    assert {r["INSiteBySiteID"]["SiteCD"] for r in rows} == {"WHOLESALE", "RETAIL"}
    assert site_status(api, **{"$filter": f"(InventoryID eq {item}) and (QtyOnHand lt 0)"}) == []
    assert site_status(api, **{"$filter": "InventoryID eq 1"}) == []
