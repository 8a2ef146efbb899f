"""How high a model's cosine gets between texts that have nothing to do with each other.

The semantic side's relevance floor is a property of the model, not of a collection:
embedding models differ in where unrelated texts land (MiniLM around 0–0.2, others
much higher).  We embed a fixed set of short questions and passages on distinct topics
and take a high percentile of the cosines between every question and the passages of
the other topics: a result whose cosine stays below it is no more similar to the query
than unrelated text usually is.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from engine.embedder import Embedder

# Topic → (questions, passages).  Topics chosen to share no subject matter.
TOPICS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "baking": (("how long should bread dough rise", "why did my cake sink in the middle"),
               ("Knead the dough for ten minutes, then let it prove until doubled.",
                "Oven temperature that is too low leaves sponge cakes dense and sunken.")),
    "astronomy": (("how far away is the nearest star", "what causes a solar eclipse"),
                  ("Proxima Centauri lies about 4.2 light years from the Sun.",
                   "The Moon passes between Earth and the Sun and casts its shadow.")),
    "tax": (("can I deduct home office expenses", "when is the income tax return due"),
            ("Self-employed filers may claim a share of rent for a room used for work.",
             "Returns for the previous year must be filed by the end of April.")),
    "networking": (("why does my wifi keep dropping", "how do I set a static ip address"),
                   ("Interference from neighbouring routers on the same channel cuts the "
                    "wireless link.", "Assign the address in the adapter settings and "
                    "keep it outside the DHCP range.")),
    "gardening": (("when should I prune roses", "how to get rid of aphids"),
                  ("Cut rose stems back in late winter, just above an outward bud.",
                   "Spray the plants with soapy water or bring in ladybirds.")),
    "football": (("who won the league last season", "what is the offside rule"),
                 ("The champions clinched the title on the final match day.",
                  "A player is offside when nearer the goal line than the last defender "
                  "as the ball is played.")),
    "medicine": (("what are the side effects of ibuprofen", "how is a broken wrist treated"),
                 ("Stomach pain and heartburn are the most common reactions to the drug.",
                  "The bone is set and held in a cast for about six weeks.")),
    "music": (("how do I tune a guitar", "what is a minor chord"),
              ("Tighten each string until it matches the reference pitch from the tuner.",
               "A minor triad stacks a minor third and a perfect fifth on the root.")),
    "law": (("how do I contest a parking fine", "what makes a will legally valid"),
            ("Write to the council within 28 days with photos of the signage.",
             "The testator signs in front of two witnesses who also sign.")),
    "chemistry": (("what is the boiling point of ethanol", "why does iron rust"),
                  ("Ethanol boils at 78 degrees Celsius at sea level.",
                   "Iron oxidises when exposed to water and oxygen, forming hydrated "
                   "oxides.")),
}
PERCENTILE = 99.0


@dataclass(frozen=True)
class Unrelated:
    """Where a model's cosines between unrelated texts fall."""

    cosine: float  # the PERCENTILE of them: one unrelated pair stays below, as a rule
    mean: float
    sd: float

    def best_of(self, n: int) -> float:
        """The cosine the best of `n` unrelated passages stays below, as a rule.

        The largest of n draws from a normal distribution is about Gumbel-distributed,
        with location mean + sd·√(2 ln n) and scale sd / √(2 ln n) (Fisher–Tippett); we
        take the same percentile of it as for one pair.  A query whose best candidate
        scores no higher has found nothing the model tells apart from chance.
        """
        root = math.sqrt(2.0 * math.log(max(n, 2)))
        gumbel = -math.log(-math.log(PERCENTILE / 100.0))
        return self.mean + self.sd * (root + gumbel / root)


def measure_unrelated(embedder: Embedder) -> Unrelated:
    """The cosines between questions and the passages of other topics, summarised."""
    questions: list[str] = []
    passages: list[str] = []
    q_topic: list[int] = []
    p_topic: list[int] = []
    for n, (qs, ps) in enumerate(TOPICS.values()):
        questions.extend(qs)
        q_topic.extend([n] * len(qs))
        passages.extend(ps)
        p_topic.extend([n] * len(ps))
    qv = np.stack([embedder.embed_query(q) for q in questions])
    pv = np.asarray(embedder.embed_passages(passages))
    sims = qv @ pv.T
    unrelated = sims[np.array(q_topic)[:, None] != np.array(p_topic)[None, :]]
    return Unrelated(float(np.percentile(unrelated, PERCENTILE)), float(unrelated.mean()),
                     float(unrelated.std()))
