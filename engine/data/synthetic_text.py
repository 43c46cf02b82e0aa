"""Synthetic free text: support messages to classify by topic, for ``kind: text``."""

from __future__ import annotations

import numpy as np
import pandas as pd

from engine.errors import ConfigError

TOPICS = {
    "billing": ("invoice", "charge", "refund", "payment", "card", "price", "bill", "fee",
                "overcharged", "receipt", "subscription", "discount"),
    "delivery": ("package", "parcel", "courier", "shipping", "late", "tracking", "arrived",
                 "address", "delayed", "box", "driver", "doorstep"),
    "account": ("password", "login", "email", "username", "locked", "reset", "profile",
                "verification", "settings", "security", "code", "signup"),
    "product": ("broken", "quality", "size", "colour", "battery", "screen", "defective",
                "manual", "warranty", "cracked", "charger", "model"),
    "praise": ("great", "thanks", "excellent", "friendly", "helpful", "quick", "love", "perfect",
               "happy", "recommend", "amazing", "brilliant"),
}
SHARED_WORDS = (
    "i", "my", "the", "a", "was", "is", "it", "and", "to", "please", "why", "not", "still",
    "again", "today", "your", "you", "with", "this", "order", "help", "can", "need", "for", "on",
    "hello", "team", "week", "yesterday", "really",
)  # fmt: skip
CHANNELS = ("email", "chat", "phone")
TOPIC_WORD_SHARE = 0.3  # the share of a message's words drawn from its own topic
MISSING_TEXT_SHARE = 0.02  # messages left missing, as real free text has


def make_text(
    *, n_samples: int = 2000, n_classes: int = 3, weights: list[float] | None = None,
    noise: float = 0.1, random_state: int = 0,
) -> pd.DataFrame:
    """Messages: ``text`` (free text, about 2% missing), ``channel``, ``words`` (the message's
    length), ``wait_hours`` (until a reply) and the ``target`` topic (the first ``n_classes`` of
    TOPICS).

    Each message has 5 to 20 words: about 30% from its topic's words, a ``noise`` share from
    another topic's, the rest shared words, so a bag of words separates the topics well but not
    perfectly.
    """
    check_text_settings(n_classes=n_classes, noise=noise, weights=weights)
    topics = list(TOPICS)[:n_classes]
    rng = np.random.default_rng(random_state)
    labels = rng.choice(n_classes, size=n_samples, p=_class_shares(weights, n_classes))
    lengths = rng.integers(5, 21, size=n_samples)
    shares = [TOPIC_WORD_SHARE, noise, 1 - TOPIC_WORD_SHARE - noise]
    texts: list[str | None] = []
    for label, length in zip(labels, lengths, strict=True):
        others = [topic for topic in topics if topic != topics[label]]
        words = []
        for source in rng.choice(3, size=length, p=shares):  # own topic, another, shared
            pool = (TOPICS[topics[label]] if source == 0 else
                    TOPICS[rng.choice(others)] if source == 1 else SHARED_WORDS)
            words.append(str(rng.choice(pool)))
        texts.append(" ".join(words))
    for row in np.flatnonzero(rng.random(n_samples) < MISSING_TEXT_SHARE):
        texts[row], lengths[row] = None, 0
    return pd.DataFrame({
        "text": texts,
        "channel": rng.choice(CHANNELS, size=n_samples),
        "words": lengths,
        "wait_hours": rng.lognormal(1.0, 0.8, size=n_samples).round(2),
        "target": [topics[label] for label in labels],
    })


def check_text_settings(*, n_classes: int, noise: float, weights: list[float] | None) -> None:
    """The topic count, noise share and class weights synthetic text can make (the config
    schema asks this before any data loads)."""
    if not 2 <= n_classes <= len(TOPICS):
        raise ConfigError(
            f"dataset.n_classes: synthetic text has {len(TOPICS)} topics "
            f"({', '.join(TOPICS)}); use 2 to {len(TOPICS)}, got {n_classes!r}."
        )
    if not 0 <= noise <= 1 - TOPIC_WORD_SHARE:
        raise ConfigError(
            "dataset.noise: for synthetic text, the share of words from another topic, from 0 "
            f"to {1 - TOPIC_WORD_SHARE:.1f}; got {noise!r}."
        )
    _class_shares(weights, n_classes)


def _class_shares(weights: list[float] | None, n_classes: int) -> np.ndarray | None:
    """``weights`` as probabilities (None: equal classes); refused unless one per class."""
    if weights is None:
        return None
    shares = np.asarray(weights, dtype=float)
    if shares.shape != (n_classes,) or (shares < 0).any() or shares.sum() <= 0:
        raise ConfigError(
            f"dataset.weights: one non-negative share per class ({n_classes}); got {weights!r}."
        )
    return shares / shares.sum()
