"""File attachments: files:put uploads, versions, comments, the legacy form and downloads."""

from __future__ import annotations

from .client import Api


def test_upload_through_files_put_link_and_download(api: Api) -> None:
    item = api.get("StockItem/AA-0001").json()
    link = item["_links"]["files:put"].replace("{filename}", "photo.jpg")
    response = api.http.put(
        api.url + link,
        data=b"\xff\xd8jpeg",
        headers={"Content-Type": "application/octet-stream", "PX-CbFileComment": "front view"},
    )
    assert response.status_code == 204
    location = response.headers["Location"]
    download = api.http.get(api.url + location)
    assert download.status_code == 200 and download.content == b"\xff\xd8jpeg"
    listed = api.get(
        "StockItem/AA-0001", **{"$expand": "files", "$select": "InventoryID,files"}
    ).json()["files"]
    assert listed == [
        {
            "id": location.rsplit("/", 1)[1],
            "filename": "Stock Items (AA-0001)\\photo.jpg",
            "href": location,
            "comment": "front view",
        }
    ]


def test_same_name_adds_a_version_and_no_comment_clears_it(api: Api) -> None:
    order = api.order()
    nbr = order["OrderNbr"]["value"]
    first = api.http.put(
        f"{api.url}/entity/Default/24.200.001/SalesOrder/SO/{nbr}/files/note.txt",
        data=b"v1",
        headers={"PX-CbFileComment": "one"},
    )
    second = api.http.put(
        f"{api.url}/entity/Default/24.200.001/SalesOrder/SO/{nbr}/files/note.txt", data=b"v2"
    )
    assert first.status_code == second.status_code == 204
    assert first.headers["Location"] == second.headers["Location"]
    assert api.http.get(api.url + second.headers["Location"]).content == b"v2"
    files = api.get(f"SalesOrder/{order['id']}", **{"$expand": "files"}).json()["files"]
    assert len(files) == 1 and files[0]["comment"] is None


def test_upload_to_an_unknown_record_fails(api: Api) -> None:
    response = api.http.put(
        f"{api.url}/entity/Default/24.200.001/files/PX.Objects.IN.InventoryItemMaint/Item/00000000-0000-0000-0000-000000000000/x.txt",
        data=b"x",
    )
    assert response.status_code == 500
    assert (
        api.http.get(
            f"{api.url}/entity/Default/24.200.001/files/00000000-0000-0000-0000-000000000000"
        ).status_code
        == 404
    )
