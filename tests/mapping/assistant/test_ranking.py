"""The ranking: deterministic, explained, and confident only when it should be."""

from __future__ import annotations

import random

from sync_workers.mapping.assistant.ranking import CONFIDENCE, Candidate, fold, rank

SHIP_VIAS = [
    Candidate("UPS", "UPS"),
    Candidate("UPSGROUND", "UPS Ground"),
    Candidate("FEDEX", "FedEx Express"),
    Candidate("PICKUP", "Customer pickup at the store"),
    Candidate("DHL", "DHL Express Worldwide"),
]


def test_folding_takes_case_accents_punctuation_and_camel_case_apart():
    assert fold("PayPalCommercePlatform") == "pay pal commerce platform"
    assert fold("Province de QUÉBEC!") == "province de quebec"
    assert fold("UPS® Ground (3-5 days)") == "ups ground 3 5 days"


def test_a_value_spelled_like_a_code_or_its_description_ranks_it_first_and_says_why():
    [best, *_] = rank("Ups ground", SHIP_VIAS)
    assert best.code == "UPSGROUND" and best.confident and best.score >= CONFIDENCE
    assert any(line.startswith("name: 'Ups ground' is 100% like") for line in best.evidence)
    [same] = rank("credit card", [Candidate("CREDITCARD"), Candidate("CASH")], top=1)
    assert same.code == "CREDITCARD" and same.score == 1.0


def test_the_same_inputs_give_the_same_ranking_in_any_order():
    shuffled = SHIP_VIAS[:]
    random.Random(7).shuffle(shuffled)
    first = [(s.code, s.score, s.evidence) for s in rank("Fed-Ex Saver", SHIP_VIAS)]
    again = [(s.code, s.score, s.evidence) for s in rank("Fed-Ex Saver", shuffled)]
    assert first == again


def test_a_precedent_in_the_template_carries_a_value_no_name_matches():
    alone = rank("Courier (next day)", SHIP_VIAS)
    with_precedent = rank("Courier (next day)", SHIP_VIAS, mapped={"Courier": "UPS"})
    assert alone[0].code != "UPS" or not alone[0].confident
    assert with_precedent[0].code == "UPS"
    assert any("precedent" in line and "'Courier'" in line for line in with_precedent[0].evidence)


def test_records_resolved_by_hand_outweigh_a_weak_name_match():
    found = rank("Express", SHIP_VIAS, resolved={"PICKUP": 3, "DHL": 1}, count=4)
    assert found[0].code == "PICKUP" and round(found[0].score, 2) == 0.9
    assert any("3 of 4 linked record" in line for line in found[0].evidence)
    assert any("4 record(s) carry 'Express'" in line for line in found[0].evidence)


def test_two_close_candidates_are_never_confident():
    twins = [Candidate("UPS1", "UPS Ground"), Candidate("UPS2", "UPS Ground")]
    found = rank("UPS Ground", twins)
    assert found[0].score == found[1].score == 1.0
    assert not found[0].confident and found[0].code == "UPS1"


def test_nothing_alike_is_not_confident():
    found = rank("Carrier pigeon", SHIP_VIAS)
    assert found and not found[0].confident and found[0].score < CONFIDENCE
