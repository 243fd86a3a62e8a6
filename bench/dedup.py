"""Duplicate finding: precision, recall and F1 on a labelled set, and the time of a tenant-wide pass.

The set is made from a seeded generator: Faker names (a fixed pool, combined at random, so
strangers share names as they do in a real tenant), emails derived from them at a few providers
(each mailbox one person's, numbered on a clash as providers do), and phones; about a quarter
of the people get a corrupted copy (typos, swapped given/family names, reformatted phones, email case, dots and '+tags',
another provider, missing fields). The truth is the set of (original, copy) pairs.

Ours is services.contacts.dedup (blocking keys + rapidfuzz scores), the code the scan worker runs,
over the whole set in memory; the baseline is exact email matching (case-insensitive), in the same
run on the same set.

    python -m bench.dedup --size 1000000
"""

from __future__ import annotations

import argparse
import json
import random
import string
import time
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from faker import Faker

from bench.measure import ratio
from services.contacts import dedup
from services.contacts.dedup import Profile

SEED = 20261123
DUPLICATE_SHARE = 0.25
PROVIDERS = ("gmail.com", "yahoo.com", "outlook.com", "example.org", "acme.io", "mail.de")


def _pools(seed: int) -> tuple[list[str], list[str]]:
    fake = Faker(["en_US", "en_GB", "de_DE", "fr_FR", "es_ES"])
    fake.seed_instance(seed)
    given = sorted({fake.first_name() for _ in range(6000)})
    family = sorted({fake.last_name() for _ in range(8000)})
    return given, family


def _typo(rng: random.Random, text: str) -> str:
    if len(text) < 3:
        return text
    i = rng.randrange(1, len(text) - 1)
    kind = rng.choice(("insert", "delete", "substitute", "transpose"))
    letter = rng.choice(string.ascii_lowercase)
    if kind == "insert":
        return text[:i] + letter + text[i:]
    if kind == "delete":
        return text[:i] + text[i + 1 :]
    if kind == "substitute":
        return text[:i] + letter + text[i + 1 :]
    return text[: i - 1] + text[i] + text[i - 1] + text[i + 1 :]


def _ascii(text: str) -> str:
    return "".join(c for c in dedup.fold(text) if c.isalnum())


def _person(rng: random.Random, n: int, given: list[str], family: list[str], taken: set[str]) -> Profile:
    g, f = rng.choice(given), rng.choice(family)
    email = ""
    if rng.random() < 0.9:
        local = rng.choice((f"{_ascii(g)}.{_ascii(f)}", f"{_ascii(g)[0]}{_ascii(f)}", f"{_ascii(g)}{_ascii(f)}"))
        email = f"{local}{rng.randrange(100) if rng.random() < 0.3 else ''}@{rng.choice(PROVIDERS)}"
        while dedup.email_key(email) in taken:  # a mailbox belongs to one person, as at a real provider
            email = f"{local}{rng.randrange(10_000)}@{email.split('@')[1]}"
        taken.add(dedup.email_key(email))
    phone = f"+{rng.choice(('1', '44', '49', '33'))}{rng.randrange(10**9, 10**10)}" if rng.random() < 0.7 else ""
    return Profile(f"P{n:08d}", g, f, email, phone)


def _corrupt(rng: random.Random, original: Profile, n: int, taken: set[str]) -> Profile:
    g, f, email, phone = original.given_name, original.family_name, original.email, original.phone
    for kind in rng.sample(("typo", "swap", "phone", "email", "missing", "typo2"), rng.randint(1, 3)):
        if kind in ("typo", "typo2"):
            if rng.random() < 0.5:
                g = _typo(rng, g)
            else:
                f = _typo(rng, f)
        elif kind == "swap":
            g, f = f, g
        elif kind == "phone" and phone:
            digits = phone[1:]
            phone = f"+{digits[:-7]} {digits[-7:-4]}-{digits[-4:]}"
        elif kind == "email" and email:
            local, domain = email.split("@")
            moved = f"{local}@{rng.choice(PROVIDERS)}"
            if dedup.email_key(moved) in taken and dedup.email_key(moved) != dedup.email_key(email):
                moved = email.upper()  # that mailbox is someone else's: a copy cannot have it
            email = rng.choice(
                (
                    email.upper(),
                    f"{local.replace('.', '')}@{domain}" if domain == "gmail.com" else email.title(),
                    f"{local}+crm@{domain}",
                    moved,
                )
            )
            taken.add(dedup.email_key(email))
        elif kind == "missing":
            which = rng.choice(("email", "phone", "given"))
            if which == "email" and (phone or g or f):
                email = ""
            elif which == "phone" and (email or g or f):
                phone = ""
            elif which == "given" and (email or phone):
                g = ""
    return Profile(f"D{n:08d}", g, f, email, phone)


def labelled_set(size: int, seed: int = SEED) -> tuple[list[Profile], set[tuple[str, str]]]:
    rng = random.Random(seed)
    given, family = _pools(seed)
    people: list[Profile] = []
    truth: set[tuple[str, str]] = set()
    taken: set[str] = set()
    n = 0
    while len(people) < size:
        person = _person(rng, n, given, family, taken)
        people.append(person)
        if rng.random() < DUPLICATE_SHARE and len(people) < size:
            copy = _corrupt(rng, person, n, taken)
            people.append(copy)
            truth.add(tuple(sorted((person.id, copy.id))))  # type: ignore[arg-type]
        n += 1
    rng.shuffle(people)
    return people, truth


def exact_email_pairs(profiles: Iterable[Profile]) -> set[tuple[str, str]]:
    by_email: dict[str, list[str]] = defaultdict(list)
    for p in profiles:
        if p.email:
            by_email[p.email.lower()].append(p.id)
    return {tuple(sorted((a, b))) for ids in by_email.values() for i, a in enumerate(ids) for b in ids[i + 1 :]}  # type: ignore[misc]


def quality(found: set[tuple[str, str]], truth: set[tuple[str, str]]) -> dict[str, float]:
    hits = len(found & truth)
    precision = hits / len(found) if found else 0.0
    recall = hits / len(truth) if truth else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4), "pairs": len(found)}


def run(size: int, threshold: float = dedup.DEFAULT_THRESHOLD) -> dict[str, Any]:
    started = time.perf_counter()
    profiles, truth = labelled_set(size)
    generated = time.perf_counter() - started

    started = time.perf_counter()
    ours = {(s.a, s.b) for s in dedup.find_duplicates(profiles, threshold)}
    ours_seconds = time.perf_counter() - started

    started = time.perf_counter()
    baseline = exact_email_pairs(profiles)
    baseline_seconds = time.perf_counter() - started

    ours_quality = {**quality(ours, truth), "seconds": round(ours_seconds, 3)}
    baseline_quality = {**quality(baseline, truth), "seconds": round(baseline_seconds, 3)}
    return {
        "scenario": "dedup",
        "setup": f"{len(profiles)} contacts with {len(truth)} labelled duplicate pairs (seed {SEED}, generated in "
        f"{generated:.1f} s); blocking + rapidfuzz scoring at threshold {threshold}, in memory, one process",
        "ours": {"quality": ours_quality, "contacts_per_second": round(len(profiles) / ours_seconds, 1)},
        "baselines": {"exact_email": baseline_quality},
        "ratios": {
            "f1_vs_exact_email": ratio(ours_quality["f1"], baseline_quality["f1"]),
            "recall_vs_exact_email": ratio(ours_quality["recall"], baseline_quality["recall"]),
            "seconds_vs_exact_email": ratio(ours_seconds, baseline_seconds),
        },
        "goals": {"F1 >= 0.95": ours_quality["f1"] >= 0.95},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=1_000_000, help="contacts in the labelled set")
    parser.add_argument("--threshold", type=float, default=dedup.DEFAULT_THRESHOLD)
    args = parser.parse_args()
    print(json.dumps(run(args.size, args.threshold), indent=2))


if __name__ == "__main__":
    main()
