"""Hypothesis strategies for JSON values with exact types (shared by the deltaram tests)."""

from __future__ import annotations

from hypothesis import strategies as st

keys = st.sampled_from(["a", "b", "c", "k", "", "é", "x.y", "0"]) | st.text(max_size=4)

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.sampled_from([0, 1, -1, 0.0, -0.0, 1.0, True, False])
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=6)
)

values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=6)
    | st.dictionaries(keys, children, max_size=6),
    max_leaves=25,
)

states = st.dictionaries(keys, values, max_size=6)


def mutate(draw, value, depth=0):
    """A value near ``value``: small edits are what real commits are made of."""
    choice = draw(st.integers(0, 5))
    if type(value) is dict and value and choice < 4:
        out = dict(value)
        k = draw(st.sampled_from(sorted(out)))
        edit = draw(st.integers(0, 2))
        if edit == 0:
            del out[k]
        elif edit == 1:
            out[k] = mutate(draw, out[k], depth + 1) if depth < 4 else draw(values)
        else:
            out[draw(keys)] = draw(values)
        return out
    if type(value) is list and value and choice < 4:
        out = list(value)
        i = draw(st.integers(0, len(out) - 1))
        edit = draw(st.integers(0, 3))
        if edit == 0:
            del out[i]
        elif edit == 1:
            out[i] = mutate(draw, out[i], depth + 1) if depth < 4 else draw(values)
        elif edit == 2:
            out.insert(i, draw(values))
        else:
            out.append(draw(values))
        return out
    return draw(values)


@st.composite
def nearby_pairs(draw):
    a = draw(values)
    b = a
    for _ in range(draw(st.integers(1, 3))):
        b = mutate(draw, b)
    return a, b


def exact(a, b):
    """Exact equality including key order is too strict for dicts; types and values are not."""
    from deltaram.values import same

    return same(a, b)
