"""``/api/memberships``: the reference data a profile's ``membership_id`` points to."""

from __future__ import annotations


def test_memberships_list_and_item(api):
    listed = api.get("/api/memberships").get_json()
    assert listed == [
        {"id": 1, "name": "Wholesale", "enabled": True},
        {"id": 2, "name": "VIP", "enabled": True},
    ]
    assert api.get("/api/memberships/2").get_json() == listed[1]
    assert api.get("/api/memberships/99").status_code == 404
    # the ids a profile may carry
    profile = api.get("/api/profiles?itemsPerPage=1").get_json()[0]
    changed = api.put(f"/api/profiles/{profile['id']}", json={"membership_id": 2})
    assert changed.get_json()["membership_id"] == 2
    assert api.put(f"/api/profiles/{profile['id']}", json={"membership_id": 99}).status_code == 400


def test_a_profile_is_found_by_its_login_whatever_its_case(api):
    created = api.post("/api/profiles", json={"login": "Mixed.Case@example.com"}).get_json()
    assert api.post("/api/profiles", json={"login": "mixed.case@EXAMPLE.com"}).status_code == 400
    found = api.get("/api/profiles?login=mixed.case@example.com").get_json()
    assert [p["id"] for p in found] == [created["id"]]
