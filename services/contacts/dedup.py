"""Fuzzy duplicate detection: blocking keys, pair scores and their explanation. Pure Python, no I/O.

Two contacts are compared only when they share a blocking key (docs/adr/0036): a normalised email,
an email local part, the last digits of a phone, or a phonetic / prefix key of the name with its
tokens sorted (so swapped given and family names still meet). Keys shared by more than
MAX_BLOCK contacts say little ("info@", a common name) and are skipped, which keeps a tenant-wide
scan near-linear in the number of contacts.

A pair's score in [0, 1] is the weighted mean of the similarities of the fields both contacts
have; a name alone (or with a mailbox name that only spells it) stays below the default threshold,
since namesakes are common in a large tenant, and a different email and phone count against the
pair (docs/adr/0063). Every score comes with its explanation, one FieldMatch per compared field.
"""

from __future__ import annotations

import functools
import itertools
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import jellyfish
from rapidfuzz import fuzz
from rapidfuzz.distance import Indel, JaroWinkler

DEFAULT_THRESHOLD = 0.8
# A blocking key shared by more contacts than this is not selective; its pairs are not generated.
MAX_BLOCK = 20
# Email local parts that name a role, not a person: never a blocking key on their own.
ROLE_LOCAL_PARTS = frozenset(
    {"info", "sales", "admin", "contact", "hello", "support", "office", "mail", "team", "billing", "noreply"}
)
# Providers where dots in the local part do not matter and '+tag' is a sub-address.
DOTLESS_DOMAINS = frozenset({"gmail.com", "googlemail.com"})
PHONE_SUFFIX = 9
WEIGHTS = {"email": 0.40, "phone": 0.30, "name": 0.30, "company": 0.10}
# Only the name was comparable: strangers share names, so the score is the similarity less this
# (less more for half a name).
NAME_ONLY_PENALTY = 0.25
PARTIAL_NAME_ONLY_PENALTY = 0.35
# The same mailbox name at another provider, when that name is only the person's name spelt out
# (adalovelace, alovelace): no more evidence than the name itself, which already counts.
NAME_SPELT_MAILBOX = 0.5
SPELT_SIMILARITY = 0.85


@dataclass(frozen=True)
class Profile:
    """What duplicate detection looks at of a contact."""

    id: str
    given_name: str = ""
    family_name: str = ""
    email: str = ""
    phone: str = ""
    account_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class FieldMatch:
    """How one field compared: `how` is exact, equivalent, similar, swapped, shared or different."""

    field: str
    how: str
    similarity: float


@dataclass(frozen=True)
class Scored:
    a: str
    b: str
    score: float
    matches: tuple[FieldMatch, ...] = field(default_factory=tuple)


@functools.lru_cache(maxsize=1 << 18)
def fold(text: str) -> str:
    """Lower case, accents removed, only letters, digits and single spaces."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(re.sub(r"[^\w]+", " ", plain).replace("_", " ").split())


@functools.lru_cache(maxsize=1 << 18)
def email_key(email: str) -> str:
    """The address as a mailbox: lower case, '+tag' dropped, dots dropped where the provider ignores them."""
    email = email.strip().lower()
    if "@" not in email:
        return ""
    local, domain = email.rsplit("@", 1)
    local = local.split("+", 1)[0]
    if domain in DOTLESS_DOMAINS:
        local = local.replace(".", "")
        domain = "gmail.com"
    return f"{local}@{domain}"


@functools.lru_cache(maxsize=1 << 18)
def _local_part(key: str) -> str:
    return re.sub(r"[^a-z0-9]", "", key.split("@", 1)[0])


@functools.lru_cache(maxsize=1 << 18)
def phone_key(phone: str) -> str:
    digits = re.sub(r"\D", "", phone)
    return digits[-PHONE_SUFFIX:] if len(digits) >= 7 else ""


def name_tokens(profile: Profile) -> list[str]:
    return fold(f"{profile.given_name} {profile.family_name}").split()


def blocking_keys(profile: Profile) -> set[str]:
    """The keys under which a contact is filed; two contacts are compared when they share one."""
    keys: set[str] = set()
    email = email_key(profile.email)
    if email:
        keys.add("e:" + email)
        local = _local_part(email)
        if len(local) >= 5 and local not in ROLE_LOCAL_PARTS:
            keys.add("l:" + local)
    phone = phone_key(profile.phone)
    if phone:
        keys.add("p:" + phone)
    tokens = [t for t in name_tokens(profile) if len(t) > 1]
    if tokens:
        sounds = sorted(jellyfish.metaphone(t) or t for t in tokens)
        keys.add("n:" + " ".join(sounds))
        keys.add("f:" + " ".join(sorted(t[:3] for t in tokens)))
        for i, token in enumerate(tokens):  # one part exact, the other's initial (a typo elsewhere)
            others = [t[0] for j, t in enumerate(tokens) if j != i]
            keys.add(f"t:{token} {''.join(sorted(others))}")
        if email:  # the same family name at the same company domain
            keys.add(f"d:{email.split('@', 1)[1]}:{sounds[0]}")
    return keys


def _jw(x: str, y: str) -> float:
    """Similarity of two name parts: Jaro-Winkler, or the share of letters in common where that is
    higher (Jaro-Winkler's matching window is empty for short names: 'ry' and 'ruy' would be 0.61)."""
    return max(JaroWinkler.similarity(x, y), Indel.normalized_similarity(x, y))


def _name_similarity(a: Profile, b: Profile) -> FieldMatch | None:
    ta, tb = name_tokens(a), name_tokens(b)
    if not ta or not tb:
        return None
    ga, fa, gb, fb = fold(a.given_name), fold(a.family_name), fold(b.given_name), fold(b.family_name)
    whole = bool(ga and fa and gb and fb)
    if whole and ta == tb:
        return FieldMatch("name", "exact", 1.0)
    if whole and sorted(ta) == sorted(tb):
        return FieldMatch("name", "swapped", 0.97)
    if whole:
        # Given and family names compared pairwise, straight and crossed (Jaro-Winkler suits typos);
        # the weaker part counts as much as the mean, so one shared family name is not a match.
        straight = (_jw(ga, gb), _jw(fa, fb))
        crossed = (_jw(ga, fb), _jw(fa, gb))
        best = max(straight, crossed, key=lambda p: min(p) + sum(p))
        similarity = (min(best) + sum(best) / 2) / 2
        how = "swapped" if best is crossed and crossed != straight else "similar"
    else:
        # One side has a single part: it is compared with whichever part of the other fits best
        # (and weighs less than a whole name, see score()).
        short, long, parts = (ta, tb, (gb, fb)) if len(ta) <= len(tb) else (tb, ta, (ga, fa))
        whole_parts = [p for p in parts if p]  # 'Le Goff' is one family name of two words
        similarity = max(_jw(" ".join(short), token) for token in [*long, " ".join(long), *whole_parts])
        how = "partial"
    if similarity < 0.8:
        how = "different"
    return FieldMatch("name", how, round(similarity, 4))


def _email_similarity(a: Profile, b: Profile) -> FieldMatch | None:
    ka, kb = email_key(a.email), email_key(b.email)
    if not ka or not kb:
        return None
    if a.email.lower() == b.email.lower():
        return FieldMatch("email", "exact", 1.0)
    if ka == kb:
        return FieldMatch("email", "equivalent", 1.0)
    la, lb = _local_part(ka), _local_part(kb)
    same_domain = ka.split("@", 1)[1] == kb.split("@", 1)[1]
    if la == lb:  # the same mailbox name at another provider: often the same person, not always
        if _spells_a_name(la, a, b):
            return FieldMatch("email", "similar", NAME_SPELT_MAILBOX)
        return FieldMatch("email", "similar", 0.85)
    # Another mailbox name is another address; only a near-identical one at the same domain (a typo)
    # still counts. jsmith12 and jsmith7 are two people.
    local = fuzz.ratio(la, lb) / 100 if la and lb else 0.0
    # ... and jsmith12 and jsnith12 may be a typo, unlike jsmith12 and jsnith7.
    same_number = re.sub(r"\D", "", la) == re.sub(r"\D", "", lb)
    if same_domain and local >= 0.9 and re.sub(r"\d", "", la) != re.sub(r"\d", "", lb) and same_number:
        if _spells_a_name(la, a) and _spells_a_name(lb, b):  # they differ as the names do: no news
            return FieldMatch("email", "similar", NAME_SPELT_MAILBOX)
        return FieldMatch("email", "similar", round(local, 4))
    return FieldMatch("email", "different", 0.0)


def _spells_a_name(local: str, *profiles: Profile) -> bool:
    """Whether a mailbox name (letters and digits only) is nothing but one of the contacts' names,
    give or take a typo: given and family name in either order, whole or as an initial, or alone."""
    if not local.isalpha():
        return False
    forms: set[str] = set()
    for profile in profiles:
        given, family = (re.sub(r"[^a-z0-9]", "", fold(part)) for part in (profile.given_name, profile.family_name))
        forms |= {given, family} - {""}
        if given and family:
            forms |= {given + family, family + given, given[0] + family, family[0] + given, given + family[0]}
    return any(Indel.normalized_similarity(local, form) >= SPELT_SIMILARITY for form in forms)


def _phone_similarity(a: Profile, b: Profile) -> FieldMatch | None:
    pa, pb = phone_key(a.phone), phone_key(b.phone)
    if not pa or not pb:
        return None
    if a.phone == b.phone:
        return FieldMatch("phone", "exact", 1.0)
    if pa == pb:
        return FieldMatch("phone", "equivalent", 0.95)
    return FieldMatch("phone", "different", 0.0)


def _company_similarity(a: Profile, b: Profile) -> FieldMatch | None:
    if not a.account_ids or not b.account_ids:
        return None
    shared = set(a.account_ids) & set(b.account_ids)
    return FieldMatch("company", "shared" if shared else "different", 1.0 if shared else 0.0)


def score(a: Profile, b: Profile) -> Scored:
    """How likely `a` and `b` are the same person, with one FieldMatch per field both have."""
    matches = [
        m
        for m in (_email_similarity(a, b), _phone_similarity(a, b), _name_similarity(a, b), _company_similarity(a, b))
        if m is not None
    ]
    if not matches:
        return Scored(a.id, b.id, 0.0, ())
    strong = [m for m in matches if m.field in ("email", "phone")]
    if any(m.similarity >= 0.95 for m in strong):
        # One identical email or phone is strong evidence even when the name was mistyped; the
        # name still has to be plausible (a shared family phone is not the same person).
        name = next((m for m in matches if m.field == "name"), None)
        value = max(m.similarity for m in strong)
        if name is not None:  # names from 0.5 (unrelated) to 0.9 scale the score from 1/2 to 1
            fit = min(max((name.similarity - 0.5) / 0.4, 0.0), 1.0)
            agreeing = sum(1 for m in strong if m.similarity >= 0.95)
            value *= 0.5 + 0.5 * fit if agreeing < 2 else 0.75 + 0.25 * fit  # email and phone: name matters less
        if any(m.how == "different" for m in strong):  # e.g. same email, another phone
            value *= 0.8
    else:
        weight = sum(WEIGHTS[m.field] for m in matches)
        # A field that differs counts as nothing alike, not as "70 % alike".
        value = sum(WEIGHTS[m.field] * m.similarity for m in matches if m.how != "different") / weight
        if not strong:  # a name alone: a common name is shared by strangers; half a name even more so
            value -= NAME_ONLY_PENALTY if matches[0].how != "partial" else PARTIAL_NAME_ONLY_PENALTY
    return Scored(a.id, b.id, round(min(max(value, 0.0), 1.0), 4), tuple(matches))


def candidate_pairs(profiles: Iterable[Profile], max_block: int = MAX_BLOCK) -> Iterator[tuple[Profile, Profile]]:
    """Each pair of profiles sharing a selective blocking key, once (ordered by id within the pair)."""
    blocks: dict[str, list[Profile]] = defaultdict(list)
    for profile in profiles:
        for key in blocking_keys(profile):
            blocks[key].append(profile)
    seen: set[tuple[str, str]] = set()
    for members in blocks.values():
        if len(members) < 2 or len(members) > max_block:
            continue
        for x, y in itertools.combinations(members, 2):
            pair = (x, y) if x.id < y.id else (y, x)
            ids = (pair[0].id, pair[1].id)
            if ids in seen:
                continue
            seen.add(ids)
            yield pair


def find_duplicates(
    profiles: Iterable[Profile], threshold: float = DEFAULT_THRESHOLD, max_block: int = MAX_BLOCK
) -> list[Scored]:
    """Every pair scoring at least `threshold`, best first."""
    found = [s for x, y in candidate_pairs(profiles, max_block) if (s := score(x, y)).score >= threshold]
    return sorted(found, key=lambda s: (-s.score, s.a, s.b))


def rank_candidates(
    target: Profile, others: Iterable[Profile], threshold: float = DEFAULT_THRESHOLD, limit: int = 20
) -> list[Scored]:
    """The others that look like `target`, best first."""
    found = [s for other in others if other.id != target.id and (s := score(target, other)).score >= threshold]
    return sorted(found, key=lambda s: (-s.score, s.b))[:limit]
