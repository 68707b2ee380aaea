"""Edge records with real-world dirt, edge-list files and Twitter15/16 trees."""

from __future__ import annotations

import io
import math
import tarfile
from pathlib import Path

import pytest

from im2.sharing.cascade import cascade_metrics
from im2.sharing.cascade_import import (
    CascadeImportError,
    DropReason,
    forest_from_edges,
    load_twitter_dataset,
    parse_edge_list,
    parse_twitter_labels,
    parse_twitter_tree,
    read_edge_list,
    read_twitter_tree,
)

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
TWITTER = DATA / "twitter15_16_cascades"


def _parent_ids(build_ids: tuple[object, ...], parent: list[int]) -> dict[object, object]:
    return {build_ids[i]: (None if p < 0 else build_ids[p]) for i, p in enumerate(parent)}


def test_first_touch_keeps_the_earliest_edge_and_reports_the_rest() -> None:
    records = [
        ("ann", "bob", 10.0),  # 0 kept
        ("ann", "bob", 12.0),  # 1 the same invite again
        ("cat", "dan", 30.0),  # 2 a later second parent of dan
        ("bob", "dan", 20.0),  # 3 kept: earlier although listed later
        ("eve", "eve", 5.0),  # 4 nobody brings themselves
        (None, "ann", 0.0),  # 5 ann came on her own
        ("ann", "cat", 15.0),  # 6 kept
    ]
    parents, children, times = zip(*records, strict=True)

    build = forest_from_edges(list(parents), list(children), times=list(times))

    links = _parent_ids(build.ids, build.forest.parent.tolist())
    assert links == {"bob": "ann", "dan": "bob", "ann": None, "cat": "ann", "eve": None}
    assert build.report.dropped.tolist() == [1, 2, 4]
    assert build.report.reasons.tolist() == [
        DropReason.DUPLICATE,
        DropReason.LATER_PARENT,
        DropReason.SELF_LOOP,
    ]
    assert build.report.count(DropReason.LATER_PARENT) == 1
    # eve only appeared in her self-loop, so nothing says when she joined.
    assert build.report.implicit_roots == 1
    assert build.forest.time[build.ids.index("dan")] == 20.0


def test_ties_in_time_go_to_the_earlier_record() -> None:
    build = forest_from_edges(["a", "b", None, None], ["c", "c", "a", "b"], times=[1, 1, 0, 0])

    assert build.forest.parent[build.ids.index("c")] == build.ids.index("a")
    assert build.report.reasons.tolist() == [DropReason.LATER_PARENT]


def test_cycles_lose_their_latest_edge() -> None:
    # x and y invited each other; z hangs below the loop; w→v is a separate, clean tree.
    build = forest_from_edges(
        ["x", "y", "y", None, "w"], ["y", "x", "z", "w", "v"], times=[1.0, 2.0, 3.0, 0.0, 4.0]
    )

    links = _parent_ids(build.ids, build.forest.parent.tolist())
    assert links == {"y": "x", "x": None, "z": "y", "w": None, "v": "w"}
    assert build.report.dropped.tolist() == [1]
    assert build.report.reasons.tolist() == [DropReason.CYCLE]
    assert cascade_metrics(build.forest).trees == 2


def test_no_records_make_an_empty_forest() -> None:
    result = parse_edge_list(["# nothing yet", ""])

    assert result.build.forest.n_nodes == 0
    assert result.build.report.dropped.size == 0
    assert cascade_metrics(result.build.forest).size == 0


def test_edge_list_whitespace_with_times_and_channels() -> None:
    text = """# who brought whom
    - alice 0
    alice bob 60 wechat
    alice carol 120 weibo
    bob dave 300 wechat

    carol erin
    """

    result = parse_edge_list(text.splitlines())

    forest = result.build.forest
    assert result.channel_names == ("wechat", "weibo")
    assert forest.n_nodes == 5
    assert cascade_metrics(forest).channels == ((-1, 1), (0, 2), (1, 1))
    # Gaps alice→bob 60 s, alice→carol 120 s, bob→dave 240 s; erin's time is unknown.
    assert cascade_metrics(forest).viral_cycle_time == pytest.approx(120.0)
    assert math.isnan(forest.time[result.build.ids.index("erin")])


def test_edge_list_csv_with_header_and_iso_times(tmp_path: Path) -> None:
    path = tmp_path / "edges.csv"
    path.write_text(
        "parent,child,time,channel\n"
        ",root,2024-05-01T08:00:00Z,\n"
        "root,kid,2024-05-01T09:30:00+00:00,qr\n"
        '"root","kid 2",2024-05-01T08:15:00,link\n',
        encoding="utf-8",
    )

    result = read_edge_list(path)

    ids = result.build.ids
    assert ids == ("root", "kid", "kid 2")
    assert cascade_metrics(result.build.forest).viral_cycle_time == pytest.approx(52.5 * 60)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("a b c d e", "expected 2 to 4 fields"),
        ("a", "expected 2 to 4 fields"),
        ("a b yesterday", "Invalid isoformat"),
        ("a b nan", "not a finite number"),
    ],
)
def test_edge_list_errors_name_the_line(line: str, message: str) -> None:
    lines = ["p q 1", "", line]

    with pytest.raises(CascadeImportError, match=rf"^edges\.txt:3: .*{message}"):
        parse_edge_list(lines, source="edges.txt")
    collected = parse_edge_list(lines, source="edges.txt", errors="collect")

    assert [e.line for e in collected.skipped] == [3]
    assert collected.build.forest.n_nodes == 2


TINY_TREE = """\
['ROOT', 'ROOT', '0.0']->['10', '500', '0.0']
['10', '500', '0.0']->['11', '500', '1.5']
['10', '500', '0.0']->['12', '500', '2.0']
['10', '500', '0.0']->['12', '500', '2.0']
['11', '500', '1.5']->['13', '501', '4.0']
['12', '500', '2.0']->['13', '501', '4.0']
['13', '501', '4.0']->['13', '501', '4.0']
"""


def test_twitter_tree_file(tmp_path: Path) -> None:
    path = tmp_path / "500.txt"
    path.write_text(TINY_TREE, encoding="utf-8")

    cascade = read_twitter_tree(path, label="false")

    build = cascade.build
    assert cascade.tweet_id == "500"
    assert cascade.label == "false"
    assert build.ids == ("10", "11", "12", "13")
    assert build.forest.parent.tolist() == [-1, 0, 0, 1]
    assert build.forest.time.tolist() == [0.0, 90.0, 120.0, 240.0]
    assert build.report.count(DropReason.DUPLICATE) == 1
    assert build.report.count(DropReason.LATER_PARENT) == 1
    assert build.report.count(DropReason.SELF_LOOP) == 1
    metrics = cascade_metrics(build.forest)
    assert (metrics.size, metrics.depth, metrics.breadth_per_level) == (4, 2, (1, 2, 1))


def test_twitter_post_identity_keeps_repeat_retweets_apart() -> None:
    text = TINY_TREE + "['12', '500', '2.0']->['11', '502', '9.0']\n"

    by_user = parse_twitter_tree(text, source="t.txt")
    by_post = parse_twitter_tree(text, source="t.txt", identity="post")

    assert by_user.build.forest.n_nodes == 4
    assert by_post.build.forest.n_nodes == 5


def test_twitter_bad_lines_are_named_or_collected() -> None:
    text = TINY_TREE.replace("['11', '500', '1.5']->", "['11', '500', '1.5']=>", 1)
    text += "['10', '500', '0.0']->['14', '500', 'soon']\n"

    with pytest.raises(CascadeImportError, match=r"^t\.txt:5: expected") as caught:
        parse_twitter_tree(text, source="t.txt")
    collected = parse_twitter_tree(text, source="t.txt", errors="collect")

    assert "and" not in str(caught.value)
    assert [(e.line, "finite" in e.message) for e in collected.skipped] == [(5, False), (8, True)]
    assert collected.build.forest.n_nodes == 4


def test_twitter_labels() -> None:
    labels = parse_twitter_labels(["false:500", "non-rumor:501", ""], source="label.txt")

    assert labels == {"500": "false", "501": "non-rumor"}
    with pytest.raises(CascadeImportError, match=r"label\.txt:1: expected label:tweet_id"):
        parse_twitter_labels(["500"], source="label.txt")


def test_twitter_archive_is_read_without_extracting(tmp_path: Path) -> None:
    members = {
        "mini/tree/500.txt": TINY_TREE,
        "mini/label.txt": "false:500\n",
        "mini/tree/600.txt": "['ROOT', 'ROOT', '0.0']->['20', '600', '0.0']\n",
    }
    with tarfile.open(tmp_path / "mini.tar.xz", "w:xz") as archive:
        for name, text in members.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    (tmp_path / "mini_label.txt").write_text("true:600\nfalse:500\n", encoding="utf-8")

    cascades = list(load_twitter_dataset(tmp_path, "mini"))  # type: ignore[arg-type]

    assert [(c.tweet_id, c.label, c.build.forest.n_nodes) for c in cascades] == [
        ("500", "false", 4),
        ("600", "true", 1),
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mini.tar.xz", "mini_label.txt"]


def test_a_broken_archive_is_an_import_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.tar.xz"
    path.write_bytes(b"\xfd7zXZ\x00 not really")

    with pytest.raises(CascadeImportError, match="cannot read archive"):
        list(load_twitter_dataset(tmp_path, "broken"))  # type: ignore[arg-type]


@pytest.mark.skipif(
    not (TWITTER / "twitter16.tar.xz").exists(),
    reason=f"Twitter15/16 cascades not present at {TWITTER}",
)
def test_real_twitter16_trees_are_single_labelled_trees() -> None:
    cascades = load_twitter_dataset(TWITTER, "twitter16")

    for _, cascade in zip(range(40), cascades, strict=False):
        metrics = cascade_metrics(cascade.build.forest)
        assert cascade.label in {"true", "false", "non-rumor", "unverified"}
        assert metrics.trees == 1
        assert metrics.size > 1
        assert metrics.structural_virality >= 1.0
