"""Listwise and pairwise ranking losses over masked candidate lists.

scores, gains: float32 [Q, C]; mask: bool [Q, C] (False = padding, ignored everywhere).
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

from collections.abc import Callable

import numpy as np
import numpy.typing as npt
import tensorflow as tf

# Far below any real score but finite, so 0 * log-prob stays 0 instead of NaN.
_MASKED_SCORE = -1e9

LossFn = Callable[[tf.Tensor, tf.Tensor, tf.Tensor], tf.Tensor]


def listwise_softmax(scores: tf.Tensor, gains: tf.Tensor, mask: tf.Tensor) -> tf.Tensor:
    """ListNet-style softmax cross-entropy against targets proportional to 2**gain - 1.

    The exponential gain matches NDCG's, so the loss spends its effort where NDCG does. Queries whose
    candidates are all irrelevant carry no target distribution and are left out of the mean.
    """
    targets = tf.where(mask, tf.pow(2.0, gains) - 1.0, 0.0)
    totals = tf.reduce_sum(targets, axis=1, keepdims=True)
    probs = tf.math.divide_no_nan(targets, totals)
    log_probs = tf.nn.log_softmax(tf.where(mask, scores, _MASKED_SCORE), axis=1)
    per_query = -tf.reduce_sum(probs * log_probs, axis=1)
    has_target = tf.cast(totals[:, 0] > 0, scores.dtype)
    return tf.math.divide_no_nan(tf.reduce_sum(per_query * has_target), tf.reduce_sum(has_target))


def pairwise_logistic(scores: tf.Tensor, gains: tf.Tensor, mask: tf.Tensor) -> tf.Tensor:
    """RankNet: mean of log(1 + exp(-(s_i - s_j))) over the pairs of a query with gain_i > gain_j."""
    pairs = (gains[:, :, None] > gains[:, None, :]) & mask[:, :, None] & mask[:, None, :]
    weight = tf.cast(pairs, scores.dtype)
    margin = scores[:, :, None] - scores[:, None, :]
    return tf.math.divide_no_nan(tf.reduce_sum(tf.nn.softplus(-margin) * weight), tf.reduce_sum(weight))


def listwise_distill(scores: tf.Tensor, teacher: tf.Tensor, mask: tf.Tensor) -> tf.Tensor:
    """KL(softmax(teacher) || softmax(student)) per query, averaged: `teacher` holds the teacher's
    scores in the gains' place (model/ranker/distill.py). Cross-entropy and KL differ by the teacher's
    entropy, a constant, so the gradients are the KL's."""
    target = tf.nn.softmax(tf.where(mask, teacher, _MASKED_SCORE), axis=1)
    log_probs = tf.nn.log_softmax(tf.where(mask, scores, _MASKED_SCORE), axis=1)
    per_query = -tf.reduce_sum(tf.where(mask, target * log_probs, 0.0), axis=1)
    has_list = tf.cast(tf.reduce_sum(tf.cast(mask, scores.dtype), axis=1) > 1, scores.dtype)
    return tf.math.divide_no_nan(tf.reduce_sum(per_query * has_list), tf.reduce_sum(has_list))


LOSSES: dict[str, LossFn] = {
    "listwise_softmax": listwise_softmax,
    "pairwise_logistic": pairwise_logistic,
    "listwise_distill": listwise_distill,
}


def loss_denominator(loss: str, gains: npt.NDArray[np.float32], mask: npt.NDArray[np.bool_]) -> float:
    """What `loss` divides by on this batch: queries with a target (listwise) or ordered pairs (pairwise).

    Replicas that each take a slice of a batch weight their mean by their share of this number, so the
    summed gradients equal those of the whole batch on one device.
    """
    if loss == "listwise_softmax":
        return float(((gains > 0) & mask).any(axis=1).sum())
    if loss == "listwise_distill":
        return float((mask.sum(axis=1) > 1).sum())
    pairs = (gains[:, :, None] > gains[:, None, :]) & mask[:, :, None] & mask[:, None, :]
    return float(pairs.sum())
