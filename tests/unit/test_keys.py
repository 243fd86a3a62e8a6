from gateway import keys


def test_a_generated_key_matches_its_hash_and_exposes_only_its_prefix():
    new = keys.generate()
    assert keys.parse_prefix(new.secret_key) == new.prefix
    assert keys.matches(new.secret_key, new.key_hash)
    assert new.secret_key not in new.key_hash


def test_another_key_with_the_same_prefix_does_not_match():
    new = keys.generate()
    forged = new.secret_key[:-4] + ("AAAA" if not new.secret_key.endswith("AAAA") else "BBBB")
    assert keys.parse_prefix(forged) == new.prefix
    assert not keys.matches(forged, new.key_hash)


def test_malformed_keys_have_no_prefix():
    for key in ("", "Bearer x", "crm_short_x", "sk_live_" + "a" * 40):
        assert keys.parse_prefix(key) is None
