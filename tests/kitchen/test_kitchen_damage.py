"""How the boxes a frame must redraw become a few drawing passes, and what a pass clears
(kitchen/damage.py)."""

from __future__ import annotations

from kitchen.damage import BAND_GAP, MAX_PASSES, PASS_PX, clear_parts, plan_passes

WINDOW = (1920, 1080)


def covered(
    boxes: list[tuple[int, int, int, int]], passes: list[tuple[int, int, int, int]]
) -> bool:
    return all(
        any(p[0] <= b[0] and p[1] <= b[1] and b[2] <= p[2] and b[3] <= p[3] for p in passes)
        for b in boxes
    )


def test_near_boxes_share_a_pass_and_far_ones_get_their_own() -> None:
    ages = [(212 + 318 * i, 958, 312 + 318 * i, 1006) for i in range(6)]  # a row of timers
    assert len(plan_passes(ages, WINDOW)) == 1
    column, count = (1600, 6, 1915, 1010), (299, 1020, 595, 1076)  # a new ticket, "7 open"
    passes = plan_passes([column, count], WINDOW)
    assert sorted(passes) == sorted([column, count])


def test_never_more_than_max_passes_and_every_box_covered() -> None:
    boxes = [(i * 400, (i % 2) * 900, i * 400 + 10, (i % 2) * 900 + 10) for i in range(5)]
    passes = plan_passes(boxes, WINDOW)
    assert len(passes) <= MAX_PASSES
    assert covered(boxes, passes)


def test_boxes_are_clipped_to_the_window_and_empty_ones_dropped() -> None:
    assert plan_passes([(-2, -2, 50, 50), (10, 10, 10, 40)], WINDOW) == [(0, 0, 50, 50)]
    assert plan_passes([(1900, 1070, 1930, 1090)], WINDOW) == [(1900, 1070, 1920, 1080)]


def test_a_merge_adds_at_most_a_pass_worth_of_pixels() -> None:
    a, b = (0, 0, 100, 100), (0, 200, 100, 300)  # joined: 10,000 px more than the two
    assert len(plan_passes([a, b], WINDOW)) == 1
    far = (1800, 0, 1900, 1000)
    assert (PASS_PX < (1900 * 1000) - 100 * 300 - 100 * 1000) and len(
        plan_passes([a, b, far], WINDOW)
    ) == 2


def test_a_pass_clears_bands_of_what_drew_and_the_tall_strips_on_their_own() -> None:
    column = (1598, 0, 1920, 1010)  # a bump's pass: the last column and its edges
    strip = (1598, 0, 1602, 1010)  # the dark gap left of it, two pixels inside the pass
    header, items = (1600, 910, 1915, 1010), (1604, 700, 1911, 905)  # close: one band
    buttons = (1600, 0, 1915, 70)  # far below the items: a band of its own
    parts = clear_parts({strip, header, items, buttons}, column)
    assert sorted(parts) == sorted([strip, (1600, 700, 1915, 1010), buttons])
    assert covered([strip, header, items, buttons], parts)
    apart = (1600, 70 + BAND_GAP, 1915, 80 + BAND_GAP)  # a gap of BAND_GAP rows: kept
    assert len(clear_parts({buttons, apart}, column)) == 2
    assert clear_parts(set(), column) == []
