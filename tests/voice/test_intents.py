"""Intent recognition: normalisation, keywords and patterns in Chinese and English, and the
classifier's held-out accuracy on a small labelled set."""

from __future__ import annotations

import pytest

from lodestar.channels.voice_robot import example_script_path, load_script
from lodestar.channels.voice_robot.intents import Recogniser, build_classifier, normalise


@pytest.fixture(scope="module")
def recogniser() -> Recogniser:
    return Recogniser(load_script(example_script_path()))


@pytest.mark.parametrize(("raw", "expected"), [
    ("  ＯＫ，有兴趣！ ", "ok有兴趣"), ("有 兴 趣。", "有兴趣"), ("No thanks, I KNOW", "no thanks i know"),
    ("“好的”", "好的"), ("ＹＥＳ！！", "yes"),
])  # fmt: skip
def test_normalise(raw: str, expected: str) -> None:
    assert normalise(raw) == expected


@pytest.mark.parametrize(("answer", "intent", "method"), [
    ("有兴趣", "affirm", "keyword"), ("好的，发给我吧", "affirm", "pattern"),
    ("我不需要，谢谢", "deny", "keyword"), ("不感兴趣", "deny", "keyword"),
    ("不是我", "deny", "keyword"), ("现在在开会", "busy", "keyword"),
    ("利息多少", "ask_rate", "keyword"), ("转人工", "human", "keyword"),
    ("别再打了，我要投诉", "stop", "keyword"), ("想了解一下", "affirm", "pattern"),
    ("Yes, speaking", "affirm", "keyword"), ("No, not interested", "deny", "keyword"),
    ("I'm driving", "busy", "keyword"), ("what is the interest rate", "ask_rate", "keyword"),
    ("ＮＯ！", "deny", "keyword"), ("怎么还款", "ask_rate", "pattern"),
])  # fmt: skip
def test_rules(recogniser: Recogniser, answer: str, intent: str, method: str) -> None:
    r = recogniser.recognise(answer)
    assert (r.intent, r.method) == (intent, method)
    assert r.confidence >= 0.75


def test_english_keywords_match_whole_words(recogniser: Recogniser) -> None:
    assert recogniser.recognise("I know").intent != "deny"


def test_gibberish_and_silence_not_understood(recogniser: Recogniser) -> None:
    for answer in ("阿巴阿巴", "", "？？？", "qwrtzp"):
        assert recogniser.recognise(answer).intent is None


def test_classifier_answers_when_no_rule_matches(recogniser: Recogniser) -> None:
    r = recogniser.recognise("贵吗")
    assert r.method == "classifier" and r.intent == "ask_rate"


TRAIN = {
    "affirm": ["可以的", "好呀", "行啊没问题", "有兴趣", "感兴趣的", "那就办吧", "发给我", "我想试试",
               "挺好的", "嗯可以", "yes please", "sounds good", "sure go ahead", "ok send it"],
    "deny": ["不需要", "不用了", "没兴趣", "我不缺钱", "算了吧", "不要", "别推销了", "我不办",
             "不考虑", "不想要", "no thanks", "not interested", "no need", "i don't want it"],
    "busy": ["在忙", "开会呢", "正在开车", "没空", "晚点打", "现在不方便", "回头再说", "在上班",
             "改天吧", "等会儿", "busy now", "call me later", "i'm driving", "in a meeting"],
}  # fmt: skip
HELD_OUT = [("好的呀", "affirm"), ("可以啊", "affirm"), ("我有兴趣", "affirm"), ("行", "affirm"),
            ("yes sure", "affirm"), ("不要了", "deny"), ("我没兴趣", "deny"), ("不用", "deny"),
            ("no thank you", "deny"), ("算了", "deny"), ("我在忙", "busy"), ("开车呢", "busy"),
            ("晚点再打", "busy"), ("not now later", "busy"), ("没空啊", "busy")]  # fmt: skip


def test_classifier_held_out_accuracy_floor() -> None:
    texts = [normalise(x) for xs in TRAIN.values() for x in xs]
    labels = [k for k, xs in TRAIN.items() for _ in xs]
    model = build_classifier().fit(texts, labels)
    predicted = model.predict([normalise(x) for x, _ in HELD_OUT])
    accuracy = sum(p == y for p, (_, y) in zip(predicted, HELD_OUT, strict=True)) / len(HELD_OUT)
    assert accuracy >= 0.8
