from __future__ import annotations

import re

ATOM = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$")
PROFILE_FIELDS = {
    "id", "login", "access_level", "create_date", "first_login_date", "last_login_date",
    "status", "status_comment", "referer", "language", "membership_id", "pending_membership_id",
    "force_change_password", "role_ids",
}  # fmt: skip
ADDRESS = {
    "firstname": "José", "lastname": "Núñez", "street": "5 Rue Saint-Denis", "city": "Montréal",
    "zipcode": "H2X 1Y4", "country_code": "CA", "state": 111, "is_billing": True,
}  # fmt: skip


def _all_profiles(api) -> list[dict]:
    return api.get("/api/profiles?itemsPerPage=100").get_json()


def test_seed_has_about_50_customers_and_an_admin(api):
    profiles = _all_profiles(api)
    assert len(profiles) == 51
    assert set(profiles[0]) == PROFILE_FIELDS
    assert ATOM.match(profiles[0]["create_date"])
    assert sum(p["access_level"] == 100 for p in profiles) == 1


def test_order_snapshot_profiles_are_hidden(api):
    order = api.checkout(email="new.shopper@example.com")
    ids = {p["id"] for p in _all_profiles(api)}
    assert order["customer_id"] in ids
    assert order["order_profile_id"] not in ids
    assert api.get(f"/api/profiles/{order['order_profile_id']}").status_code == 404


def test_login_and_added_filters(api):
    matches = api.get("/api/profiles?login=customer00").get_json()
    assert len(matches) == 9
    newest = max(p["create_date"] for p in _all_profiles(api))
    stamp = newest.replace("+00:00", "Z")
    assert {
        p["create_date"] for p in api.get(f"/api/profiles?added[after]={stamp}").get_json()
    } == {newest}


def test_post_profile_checks_unique_login_and_email(api):
    created = api.post(
        "/api/profiles", json={"login": "a.new@example.com", "password": "longenough"}
    )
    assert created.status_code == 201
    assert "password" not in created.get_json()
    dup = api.post("/api/profiles", json={"login": "a.new@example.com"})
    assert dup.status_code == 400
    assert dup.get_json()["detail"] == 'Field "login" must be unique'
    assert api.post("/api/profiles", json={"login": "not-an-email"}).status_code == 400
    assert (
        api.post("/api/profiles", json={"login": "b@example.com", "password": "short"}).status_code
        == 400
    )


def test_put_profile_is_partial_and_validates_references(api):
    profile = _all_profiles(api)[3]
    answer = api.put(f"/api/profiles/{profile['id']}", json={"status": "D"})
    assert answer.get_json()["status"] == "D"
    assert answer.get_json()["login"] == profile["login"]
    bad = api.put(f"/api/profiles/{profile['id']}", json={"membership_id": 77})
    assert bad.get_json()["detail"] == "Membership with ID 77 not found"
    assert api.put(f"/api/profiles/{profile['id']}", json={"role_ids": [9]}).get_json()[
        "detail"
    ] == ("Role with ID 9 not found")


def test_last_admin_cannot_be_deleted(api):
    admin = next(p for p in _all_profiles(api) if p["access_level"] == 100)
    answer = api.delete(f"/api/profiles/{admin['id']}")
    assert answer.status_code == 400
    assert answer.get_json()["detail"] == "Cannot remove the last admin profile"
    customer = next(p for p in _all_profiles(api) if p["access_level"] == 0)
    assert api.delete(f"/api/profiles/{customer['id']}").status_code == 204


def test_address_create_requires_fields_and_valid_state(api):
    profile_id = _all_profiles(api)[1]["id"]
    path = f"/api/profiles/{profile_id}/addresses"
    created = api.post(path, json=ADDRESS)
    assert created.status_code == 201
    assert created.get_json()["state"] == 111
    missing = api.post(path, json={k: v for k, v in ADDRESS.items() if k != "city"})
    assert missing.get_json()["detail"] == 'Field "city" is required'
    no_state = api.post(path, json={k: v for k, v in ADDRESS.items() if k != "state"})
    assert no_state.get_json()["detail"] == 'Field "state" is required'
    wrong = api.post(path, json={**ADDRESS, "state": 7})
    assert wrong.get_json()["detail"] == "State with ID 7 not found"
    assert api.post(path, json={**ADDRESS, "state": 99999}).status_code == 400
    free_text = api.post(
        path, json={**ADDRESS, "country_code": "GB", "state": None, "state_name": "Kent"}
    )
    assert free_text.status_code == 201


def test_address_put_is_partial_and_default_flag_moves(api):
    profile_id = _all_profiles(api)[1]["id"]
    path = f"/api/profiles/{profile_id}/addresses"
    first = api.get(path).get_json()[0]
    assert first["is_billing"] is True
    created = api.post(path, json=ADDRESS).get_json()
    assert api.get(f"{path}/{first['id']}").get_json()["is_billing"] is False
    updated = api.put(f"{path}/{created['id']}", json={"street": "6 Rue Saint-Denis"}).get_json()
    assert updated["street"] == "6 Rue Saint-Denis"
    assert updated["city"] == "Montréal"
    assert api.delete(f"{path}/{created['id']}").status_code == 204


def test_first_login_filter_and_jsonld_list(api):
    profiles = _all_profiles(api)
    oldest_login = min(p["first_login_date"] for p in profiles if p["first_login_date"])
    stamp = oldest_login.replace("+00:00", "Z")
    before = api.get(f"/api/profiles?first_login[before]={stamp}").get_json()
    assert [p["first_login_date"] for p in before] == [oldest_login]
    strictly = api.get(f"/api/profiles?first_login[strictly_before]={stamp}").get_json()
    assert strictly == []
    ld = api.get("/api/profiles.jsonld?itemsPerPage=10").get_json()
    assert ld["hydra:totalItems"] == 51
    assert ld["hydra:member"][0]["@type"] == "Profile"


def test_a_checkout_finds_its_buyer_by_login_through_an_index(app, api):
    """Every order adds a snapshot profile: a scan per checkout made placing orders slower and
    slower; the case-insensitive lookup reads an index instead."""
    store = app.extensions["xcart_sandbox"].store
    with store.tx() as db:
        plan = db.execute(
            "EXPLAIN QUERY PLAN SELECT * FROM profiles "
            "WHERE snapshot = 0 AND login = ? COLLATE NOCASE ORDER BY id",
            ("Customer001@Example.com",),
        ).fetchall()
    assert any("profiles_login_nocase" in str(tuple(row)) for row in plan), plan
    first = api.checkout(email="Repeat.Buyer@example.com")
    again = api.checkout(email="repeat.buyer@EXAMPLE.com")
    assert again["customer_id"] == first["customer_id"]  # still matched ignoring case
