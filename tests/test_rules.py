"""The course's rule sets: the seed edition and today's challenge, and the checks a run must pass."""

import pytest

from faceparse_lib.data.rules import RULE_SETS, rule_set


def test_the_challenge_caps_parameters_below_1821085_and_bans_pretraining():
    rules = rule_set("challenge")
    assert (rules.val_has_masks, rules.metric) == (False, "fscore")
    rules.check_model(1_821_084, pretrained=False)  # one under the cap is fine
    with pytest.raises(ValueError, match="fewer than 1,821,085.*over by 1"):
        rules.check_model(1_821_085, pretrained=False)  # "fewer than": the cap itself is over
    with pytest.raises(ValueError, match="from scratch"):
        rules.check_model(100, pretrained=True)


def test_the_seed_edition_ranks_by_miou_without_a_cap():
    rules = RULE_SETS["seed"]
    assert rules.metric == "miou" and rules.max_parameters is None and rules.pretrained_allowed
    rules.check_model(43_589_878, pretrained=True)
    with pytest.raises(ValueError, match="challenge, seed|seed, challenge"):
        rule_set("2024")


def test_the_cap_means_fewer_than_in_one_place():
    from faceparse_lib.data.rules import RULE_SETS

    challenge = RULE_SETS["challenge"]
    challenge.check_parameters(1_821_084)
    with pytest.raises(ValueError, match="fewer than 1,821,085.*over by 1"):
        challenge.check_parameters(1_821_085)
    assert challenge.parameters_problem(1_821_084) is None and RULE_SETS["seed"].parameters_problem(10**9) is None
    with pytest.raises(ValueError, match="from scratch"):
        challenge.check_pretrained(True)
