"""Recognising what a caller meant: keywords, patterns, then a small text classifier.

Text is normalised first (:func:`normalise`): NFKC turns full-width letters, digits and
punctuation into half-width, letters are lower-cased, and punctuation, symbols and spaces are
removed — so ``“有兴趣！”``, ``有 兴 趣`` and ``ＹＥＳ`` read as ``有兴趣`` and ``yes``. Chinese
needs no word splitting: a keyword matches as a substring of the normalised answer (English
keywords match whole words: one space is kept between two ASCII words).

When several intents match, the **longest** match wins, so ``不需要`` (no) beats ``需要`` (yes)
inside ``我不需要``; equal lengths go to the intent declared first. Only when no keyword or
pattern matches does the classifier (character 1-3-gram TF-IDF + logistic regression, trained on
the intents' examples and keywords) answer, and only above ``min_confidence``.

>>> normalise("  ＯＫ，有兴趣！ ")
'ok有兴趣'
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from lodestar.channels.voice_robot.script import CallScript

Method = Literal["keyword", "pattern", "classifier", "none"]

#: confidence of a rule match that another intent's shorter match contradicts
CONTESTED = 0.75


def normalise(text: str) -> str:
    folded = unicodedata.normalize("NFKC", text).lower()
    spaced = "".join(" " if unicodedata.category(ch)[0] in "PSZC" else ch for ch in folded)
    # one space survives only between two ASCII letters / digits, where it separates words
    return _INNER_SPACE.sub("", " ".join(spaced.split()))


_INNER_SPACE = re.compile(r"(?<![a-z0-9]) | (?![a-z0-9])")


def keyword_pattern(keyword: str) -> re.Pattern[str]:
    """A normalised keyword as a search pattern: English words match whole (``no`` is not in
    ``know``); Chinese characters match anywhere."""
    return re.compile(r"(?<![a-z0-9])" + re.escape(keyword) + r"(?![a-z0-9])")


@dataclass(frozen=True)
class Recognition:
    """The intent recognised in one answer (``None`` when not understood)."""

    intent: str | None
    confidence: float
    method: Method


class Recogniser:
    """Recognises a script's intents; the classifier is trained lazily on first need.

    >>> from lodestar.channels.voice_robot.script import example_script_path, load_script
    >>> r = Recogniser(load_script(example_script_path()))
    >>> r.recognise("我不需要，谢谢").intent
    'deny'
    """

    def __init__(self, script: CallScript) -> None:
        self.script = script
        self._rules: list[tuple[str, list[re.Pattern[str]], list[re.Pattern[str]]]] = [
            (name, [keyword_pattern(normalise(k)) for k in intent.keywords if normalise(k)],
             [re.compile(p) for p in intent.patterns])
            for name, intent in script.intents.items()
        ]  # fmt: skip
        self._model: Any = None

    def recognise(self, answer: str) -> Recognition:
        text = normalise(answer)
        if not text:
            return Recognition(None, 0.0, "none")
        matches: list[tuple[int, int, str, Method]] = []  # (length, -order, intent, method)
        for order, (name, keywords, patterns) in enumerate(self._rules):
            best: tuple[int, Method] | None = None
            for rules, method in ((keywords, "keyword"), (patterns, "pattern")):
                for p in rules:
                    m = p.search(text)
                    if (
                        m
                        and m.end() > m.start()
                        and (best is None or m.end() - m.start() > best[0])
                    ):
                        best = (m.end() - m.start(), method)  # type: ignore[assignment]
            if best is not None:
                matches.append((best[0], -order, name, best[1]))
        if matches:
            matches.sort(reverse=True)
            _, _, winner, method = matches[0]
            contested = any(m[2] != winner for m in matches[1:])
            return Recognition(winner, CONTESTED if contested else 1.0, method)
        settings = self.script.classifier
        if not settings.enabled:
            return Recognition(None, 0.0, "none")
        guess, proba = self.classify(text)
        if guess is None or proba < settings.min_confidence:
            return Recognition(None, proba, "none")
        return Recognition(guess, proba, "classifier")

    def classify(self, text: str) -> tuple[str | None, float]:
        """The classifier's best intent for normalised ``text`` and its probability."""
        model = self._fitted()
        if model is None:
            return None, 0.0
        proba = model.predict_proba([text])[0]
        best = int(proba.argmax())
        return str(model.classes_[best]), float(proba[best])

    def _fitted(self) -> Any:
        if self._model is None:
            texts, labels = training_set(self.script)
            if len(set(labels)) < 2:
                return None
            self._model = build_classifier().fit(texts, labels)
        return self._model


def training_set(script: CallScript) -> tuple[list[str], list[str]]:
    texts: list[str] = []
    labels: list[str] = []
    for name, intent in script.intents.items():
        for t in (*intent.keywords, *intent.examples):
            if normalise(t):
                texts.append(normalise(t))
                labels.append(name)
    return texts, labels


def build_classifier() -> Any:
    """Character 1-3-grams (no word splitting, so Chinese and English alike) + logistic
    regression; a pipeline following the scikit-learn contract."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    return make_pipeline(
        TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True),
        LogisticRegression(C=10.0, max_iter=1000),
    )
