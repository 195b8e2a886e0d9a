"""History: shared prefixes between forks behave exactly like independent lists."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from llmproc.messages import Message
from llmproc.process.history import History


def msg(i: int) -> Message:
    return Message.user(str(i), id=f"m{i}")


# Operations: ("append", n), ("fork", _), ("truncate", k), ("switch", j), ("replace", n)
ops = st.lists(st.tuples(st.sampled_from(["append", "fork", "truncate", "switch", "replace"]),
                         st.integers(0, 40)), max_size=60)


@settings(max_examples=300, deadline=None)
@given(ops)
def test_history_matches_a_list_model(operations: list[tuple[str, int]]) -> None:
    histories, models = [History()], [[]]
    current, counter = 0, 0
    for op, n in operations:
        h, m = histories[current], models[current]
        if op == "append":
            counter += 1
            h.append(msg(counter))
            m.append(msg(counter))
        elif op == "fork":
            histories.append(h.fork())
            models.append(list(m))
        elif op == "truncate":
            h.truncate(n)
            del m[n:]
        elif op == "switch":
            current = n % len(histories)
        elif op == "replace" and m:
            counter += 1
            h.replace_last(msg(counter))
            m[-1] = msg(counter)
        for hh, mm in zip(histories, models):
            assert list(hh) == mm and len(hh) == len(mm)
            if mm:
                assert hh[-1] == mm[-1] and hh[0] == mm[0] and hh[len(mm) // 2] == mm[len(mm) // 2]


def test_fork_shares_messages_without_copying_them() -> None:
    parent = History(msg(i) for i in range(1000))
    child = parent.fork()
    assert child[500] is parent[500]
    child.append(msg(5000))
    assert len(parent) == 1000 and len(child) == 1001
    assert parent.index_of("m999") == 999
