"""Request bodies: finding one element's exact bytes in a bulk body (to set it aside)."""

from gateway.body import element_bytes


def test_element_bytes_are_found_past_strings_nesting_and_whitespace() -> None:
    body = b' [ {"a": "x],\\"{", "b": [1, {"c": []}]} ,\n[1,[2]] ,"s,]",5,\t{} ]'
    assert element_bytes(body, [0, 1, 2, 3, 4]) == {
        0: b'{"a": "x],\\"{", "b": [1, {"c": []}]}',
        1: b"[1,[2]]",
        2: b'"s,]"',
        3: b"5",
        4: b"{}",
    }
    assert element_bytes(body, [3]) == {3: b"5"}
