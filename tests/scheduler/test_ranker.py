"""The who-ranker: its shipped weights, its structure features and its talkativeness prior."""

from __future__ import annotations

import dataclasses
import json
import math
from importlib import resources

import numpy as np
import pytest

from botkit.characters.model import Character
from botkit.scheduler import ScoringPolicy, TurnContext, WhoRanker
from botkit.scheduler.features import FEATURES, WINDOW
from botkit.scheduler.ranker import WEIGHTS_FILE, load_likelihood_weight, load_weights
from tests.scheduler.cast import BRAM, CAST, MIRA, NELL, WREN, after, human, person, said_by


def shipped() -> dict[str, object]:
    """The weights file as botkit ships it."""
    text = resources.files("botkit.scheduler").joinpath(WEIGHTS_FILE).read_text("utf-8")
    data: dict[str, object] = json.loads(text)
    return data


def feature_table(situation: TurnContext) -> dict[str, dict[str, float]]:
    """Each feature's value for each cast member, by feature name and character id."""
    rows = WhoRanker({}).features(situation, situation.cast)
    return {
        name: {c.id: float(rows[row, column]) for row, c in enumerate(situation.cast)}
        for column, name in enumerate(FEATURES)
    }


# --- the weights ----------------------------------------------------------------------


def test_the_shipped_weights_load_and_name_only_known_features() -> None:
    weights = shipped()["weights"]
    assert isinstance(weights, dict) and weights
    assert set(weights) <= set(FEATURES)
    ranker = WhoRanker.fitted()
    assert set(ranker.weights) == set(FEATURES)
    for name, value in weights.items():
        assert ranker.weights[name] == pytest.approx(value)
    for name in set(FEATURES) - set(weights):
        assert ranker.weights[name] == 0.0


def test_the_shipped_weights_favour_what_the_data_shows() -> None:
    weights = WhoRanker.fitted().weights
    assert weights["addressed_in_last"] > 0
    assert weights["named_in_last"] > 0
    assert weights["spoke_before_last"] > 0


def test_an_unknown_feature_name_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown who-ranker features: loudness, volume"):
        WhoRanker({"never_spoke": -1.0, "volume": 1.0, "loudness": 2.0})


@pytest.mark.parametrize(
    "data",
    [
        [],
        {},
        {"weights": []},
        {"weights": {"never_spoke": "high"}},
        {"weights": {"never_spoke": float("nan")}},
        {"weights": {"never_spoke": float("inf")}},
    ],
)
def test_a_malformed_weights_file_is_refused(data: object) -> None:
    with pytest.raises(ValueError, match=f"{WEIGHTS_FILE}: weights: expected an object"):
        load_weights(data)


def test_weights_load_as_floats() -> None:
    assert load_weights({"weights": {"never_spoke": -1, "about_it": 0.5}}) == {
        "never_spoke": -1.0,
        "about_it": 0.5,
    }


# --- the features ---------------------------------------------------------------------

# Ann, Mira, Bram, Ann, Wren, then Ann speaks to Nell while replying to Wren's message.
EXCHANGE = (
    human("Evening."),
    said_by(MIRA, "Evening, love."),
    said_by(BRAM, "Fog's coming in."),
    human("Is it?"),
    said_by(WREN, "Thick as soup by the caves."),
    human("Nell, do you need a hand with the lamp?"),
)


@pytest.fixture
def table() -> dict[str, dict[str, float]]:
    situation = after(*EXCHANGE)
    return feature_table(dataclasses.replace(situation, reply_to_character="wren"))


def test_the_speaker_before_last_is_marked(table: dict[str, dict[str, float]]) -> None:
    assert table["spoke_before_last"] == {"mira": 0, "bram": 0, "wren": 1, "nell": 0}
    assert table["spoke_third_last"] == {"mira": 0, "bram": 0, "wren": 0, "nell": 0}
    assert table["spoke_fourth_last"] == {"mira": 0, "bram": 1, "wren": 0, "nell": 0}


def test_recency_ranks_count_distinct_earlier_speakers(
    table: dict[str, dict[str, float]],
) -> None:
    # Earlier speakers, latest first, Ann (who spoke last) left out: Wren, Bram, Mira.
    assert table["recency_rank_2"] == {"mira": 0, "bram": 1, "wren": 0, "nell": 0}
    assert table["recency_rank_3"] == {"mira": 1, "bram": 0, "wren": 0, "nell": 0}


def test_who_has_never_spoken_is_marked(table: dict[str, dict[str, float]]) -> None:
    assert table["never_spoke"] == {"mira": 0, "bram": 0, "wren": 0, "nell": 1}
    assert table["turns_spoken_log"] == pytest.approx(
        {"mira": math.log(2), "bram": math.log(2), "wren": math.log(2), "nell": 0}
    )
    # Turns since each last spoke (1 = the last turn); never: the whole window, six turns.
    assert table["turns_since_spoke_log"] == pytest.approx(
        {"mira": math.log(6), "bram": math.log(5), "wren": math.log(3), "nell": math.log(7)}
    )


def test_the_last_turn_speaks_to_and_replies_to_whom_it_says(
    table: dict[str, dict[str, float]],
) -> None:
    assert table["addressed_in_last"] == {"mira": 0, "bram": 0, "wren": 0, "nell": 1}
    assert table["named_in_last"] == {"mira": 0, "bram": 0, "wren": 0, "nell": 1}
    assert table["replied_to_in_last"] == {"mira": 0, "bram": 0, "wren": 1, "nell": 0}
    assert table["question_to_before_last"] == {"mira": 0, "bram": 0, "wren": 1, "nell": 0}
    assert table["you_to_before_last"] == {"mira": 0, "bram": 0, "wren": 1, "nell": 0}


def test_the_last_speakers_partner_is_whom_it_last_exchanged_turns_with(
    table: dict[str, dict[str, float]],
) -> None:
    # Ann's previous turn (the fourth) came right after Bram's.
    assert table["partner_of_last_speaker"] == {"mira": 0, "bram": 1, "wren": 0, "nell": 0}
    # When Ann's previous turn opened the exchange, the partner is who answered it.
    opened = feature_table(after(human("Evening."), said_by(MIRA, "Evening."), human("Soup?")))
    assert opened["partner_of_last_speaker"] == {"mira": 1, "bram": 0, "wren": 0, "nell": 0}


def test_about_it_is_the_share_of_the_last_turns_words_in_a_persona(
    table: dict[str, dict[str, float]],
) -> None:
    # "Nell, do you need a hand with the lamp?" carries nell, hand and lamp; only "lamp"
    # is in Nell's persona (her own name is left out of it).
    assert table["about_it"] == pytest.approx(
        {"mira": 0, "bram": 0, "wren": 0, "nell": 1 / math.sqrt(3)}
    )


def test_about_it_counts_a_characters_own_recent_words() -> None:
    turns = (said_by(MIRA, "The pie is burnt."), human("Burnt pie again.", who="u-bo"))
    table = feature_table(after(*turns, cast=(MIRA, person("abe", 0.5))))
    assert table["about_it"] == {"mira": 1.0, "abe": 0.0}


def test_features_look_only_at_the_recent_window() -> None:
    early = [said_by(NELL, "The lamp is lit.")]
    filler = [human(f"Line {i}.", who=f"u-{i % 2}") for i in range(WINDOW)]
    table = feature_table(after(*early, *filler))
    assert table["never_spoke"]["nell"] == 1
    assert table["turns_spoken_log"]["nell"] == 0


def test_no_candidates_means_no_rows() -> None:
    rows = WhoRanker.fitted().features(after(human("Hello?")), [])
    assert rows.shape == (0, len(FEATURES))


# --- the ranking ------------------------------------------------------------------------


async def test_an_a_b_a_exchange_ranks_the_speaker_before_last_first() -> None:
    cast = (person("abe", 0.5), person("bea", 0.5), person("cal", 0.5))
    abe, bea, cal = cast
    # Cal has spoken most, but Ann and Bea are in an exchange.
    turns = (
        said_by(cal, "Morning."),
        said_by(cal, "Fine weather."),
        said_by(abe, "It is."),
        human("The tide is low."),
        said_by(bea, "Lowest all year."),
        human("Strange."),
    )
    ranking = await ScoringPolicy().rank(after(*turns, cast=cast))
    assert ranking.first == "bea"
    # Among characters: Abe answers Bea, so Bea is likeliest to answer back.
    turns = (said_by(cal, "Morning."), said_by(bea, "Fine weather."), said_by(abe, "It is."))
    ranking = await ScoringPolicy().rank(after(*turns, cast=cast))
    assert ranking.speakers == ("bea", "cal")


def test_talkativeness_orders_otherwise_equal_candidates() -> None:
    quiet, chatty = person("quiet", 0.2), person("chatty", 0.9)
    ranker = WhoRanker.fitted()
    situation = after(human("Nice evening."), cast=(quiet, chatty))
    q, c = ranker.scores(situation, [quiet, chatty])
    assert c - q == pytest.approx(math.log(0.9 / 0.2))
    # A neutral character gets no prior at all.
    neutral = person("neutral", 0.5)
    bare = WhoRanker({})
    assert bare.scores(situation, [neutral]).tolist() == [0.0]
    assert bare.scores(situation, [chatty]).tolist() == pytest.approx([math.log(0.9 / 0.5)])


async def test_talkativeness_beats_cast_order_but_not_structure() -> None:
    quiet, chatty = person("quiet", 0.4), person("chatty", 0.7)
    situation = after(human("Nice evening."), cast=(quiet, chatty))
    assert (await ScoringPolicy().rank(situation)).speakers == ("chatty", "quiet")
    spoken_to = after(human("Quiet, nice evening."), cast=(quiet, chatty))
    assert (await ScoringPolicy().rank(spoken_to)).speakers == ("quiet", "chatty")


def test_the_score_is_the_weighted_sum_of_features_plus_the_prior() -> None:
    ranker = WhoRanker({"never_spoke": -2.0, "addressed_in_last": 3.0})
    situation = after(said_by(MIRA, "Soup."), human("Bram, a boat?"))
    scores = ranker.scores(situation, [MIRA, BRAM, NELL]).tolist()
    assert scores == pytest.approx(
        [
            math.log(0.85 / 0.5),
            -2.0 + 3.0 + math.log(0.4 / 0.5),
            -2.0 + math.log(0.3 / 0.5),
        ]
    )


def test_a_changed_persona_is_read_again() -> None:
    ranker = WhoRanker({"about_it": 1.0})
    sam = Character(id="sam", name="Sam", persona=("Sam sells bread.",))
    situation = after(human("The whales are singing tonight."), cast=(sam,))
    assert ranker.scores(situation, [sam]).tolist() == [0.0]
    whaler = dataclasses.replace(sam, persona=("Sam hunted whales.",))
    situation = after(human("The whales are singing tonight."), cast=(whaler,))
    assert ranker.scores(situation, [whaler]).tolist() == pytest.approx([1 / math.sqrt(3)])


def test_scores_are_the_same_every_time() -> None:
    situation = after(*EXCHANGE)
    first = WhoRanker.fitted().scores(situation, list(CAST))
    again = WhoRanker.fitted().scores(situation, list(CAST))
    assert np.array_equal(first, again)


def test_the_likelihood_weight_ships_with_the_ranker_and_is_checked() -> None:
    shipped = json.loads(resources.files("botkit.scheduler").joinpath(WEIGHTS_FILE).read_text())
    assert WhoRanker.fitted().likelihood_weight == pytest.approx(shipped["likelihood_weight"])
    assert load_likelihood_weight({"weights": {}}) == 1.0
    for bad in (-0.5, float("nan"), "1"):
        with pytest.raises(ValueError, match="likelihood_weight: expected a number >= 0"):
            load_likelihood_weight({"likelihood_weight": bad})
