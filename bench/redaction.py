"""Email redaction: corpus recall and precision, throughput, and the worst single regex call.

    python bench/redaction.py [--megabytes 1.0] [--seed 7]

Recall and precision are computed over tests/data/redaction_cases.jsonl as defined in
tests/redaction_metrics.py. Throughput is `redact_emails` called once per comment over a
realistic mix (several languages, a few addresses in many disguises, mentions, prices, links,
code); the worst call is taken over the adversarial 100 kB inputs the tests use.
"""

from __future__ import annotations

import argparse
import random
import sys
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from moderation import redaction  # noqa: E402
from moderation.redaction import ANCHORED, SCANNERS, redact_emails  # noqa: E402
from tests.redaction_metrics import (  # noqa: E402
    ADVERSARIAL,
    DENSE,
    best_of,
    load_cases,
    score,
    worst_anchored_call,
    worst_scanner_call,
)

SENTENCES = {
    "en": [
        "Great post, thanks for writing it up.",
        "I tried this at work and it did not compile on Windows.",
        "Could you look at the second example again? The output looks wrong to me.",
        "We met at the conference last year and talked about exactly this.",
        "Honestly the comments here are better than the article.",
        "My kids loved the recipe, although we used less sugar.",
        "The link at the end is broken, it points to the old page.",
        "I disagree with point three, caching is not the bottleneck here.",
    ],
    "fr": [
        "Merci pour cet article, très clair.",
        "J'ai testé chez moi et ça marche parfaitement.",
        "Le point de vue de l'auteur est intéressant mais discutable.",
        "Rendez-vous à la gare à midi, comme prévu.",
    ],
    "de": [
        "Sehr guter Artikel, danke!",
        "Bei mir funktioniert das leider nicht unter Linux.",
        "Der Punkt mit dem Cache ist wichtig.",
    ],
    "es": [
        "Muy buen artículo, gracias por compartir.",
        "El punto dos no me queda claro, ¿puedes explicarlo?",
        "Lo probé en casa y funciona.",
    ],
    "ru": [
        "Отличная статья, спасибо!",
        "У меня не заработало на старой версии.",
        "Собака лает, караван идёт.",
    ],
    "zh": [
        "这篇文章写得很好，谢谢分享。",
        "我在公司试了一下，没有问题。",
        "第二个例子好像有点问题，请再看看。",
    ],
    "ja": ["とても参考になりました。ありがとうございます。", "二番目の例が動きませんでした。"],
    "ar": ["شكرا على المقال الرائع", "جربت الطريقة ونجحت معي"],
}

EXTRAS = [
    "@jane I agree with you.",
    "RT @blogger: new post is up",
    "It costs 3 @ $4.50 at the corner shop.",
    "See https://example.org/docs/getting-started?lang=en for details.",
    "npm install left-pad@1.3.0 fixed it for me.",
    "Use `git clone git@github.com:org/project.git` to get the code.",
    "Try <img src='logo@2x.png'> in the header.",
    "```css\n@media (max-width: 600px) { .nav { display: none } }\n```",
]

ADDRESSES = [
    "john.doe@example.com",
    "marie [at] exemple [dot] fr",
    "kontakt(at)firma.de",
    "juan arroba ejemplo punto es",
    "ivan собака yandex точка ru",
    "wang＠example．cn",
    "sales&#64;shop&#46;com",
    "mailto:help%40example.org",
    "jo\u200bhn@example.net",
    "support at company dot io",
]


def comment_mix(total_bytes: int, seed: int) -> list[str]:
    """Comments of one to six sentences until `total_bytes` of UTF-8; one in 25 gives an address."""
    rng = random.Random(seed)
    languages = list(SENTENCES)
    comments: list[str] = []
    size = 0
    while size < total_bytes:
        pool = SENTENCES[rng.choice(languages)]
        parts = [rng.choice(pool) for _ in range(rng.randint(1, 6))]
        if rng.random() < 0.15:
            parts.insert(rng.randrange(len(parts) + 1), rng.choice(EXTRAS))
        if rng.random() < 0.04:
            parts.append(f"Write to {rng.choice(ADDRESSES)} if you want the slides.")
        comment = " ".join(parts)
        comments.append(comment)
        size += len(comment.encode("utf-8"))
    return comments


def _name(pattern: object) -> str:
    return next(name for name, value in vars(redaction).items() if value is pattern)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    cases = load_cases()
    scores = score(cases)
    clean = sum(not case.emails for case in cases)
    print(f"cases              {scores.cases} ({scores.labelled} addresses, {clean} without any)")
    print(f"detection recall   {scores.detection_recall:.4f}  ({len(scores.misses)} missed)")
    print(f"redaction recall   {scores.redaction_recall:.4f}")
    print(f"precision          {scores.precision:.4f}  ({len(scores.false_hits)} false hits)")

    comments = comment_mix(int(args.megabytes * 1_000_000), args.seed)
    megabytes = sum(len(c.encode("utf-8")) for c in comments) / 1_000_000
    redact_emails(comments[0])  # warm the caches a long-running service would have warm

    def run() -> None:
        for comment in comments:
            redact_emails(comment)

    elapsed = best_of(run)
    print(
        f"throughput         {megabytes / elapsed:.2f} MB/s  "
        f"({megabytes:.2f} MB, {len(comments)} comments, {elapsed * 1000:.0f} ms)"
    )

    inputs = {**ADVERSARIAL, **DENSE}
    worst = max(
        [(*worst_scanner_call(p, inputs), _name(p)) for p in SCANNERS]
        + [(*worst_anchored_call(p, inputs), _name(p)) for p in ANCHORED]
    )
    print(f"worst regex call   {worst[0] * 1000:.2f} ms  ({worst[2]} on {worst[1]}, 100 kB)")
    for label, group in (("adversarial", ADVERSARIAL), ("address-dense", DENSE)):
        times = {name: best_of(partial(redact_emails, text)) for name, text in group.items()}
        name = max(times, key=times.__getitem__)
        print(f"worst redact       {times[name] * 1000:.0f} ms  ({label}: {name}, 100 kB)")


if __name__ == "__main__":
    main()
