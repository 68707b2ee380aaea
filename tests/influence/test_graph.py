"""Loading graphs: formats, id mapping, probabilities, and refusing bad input clearly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from im2.influence.errors import GraphFormatError
from im2.influence.graph import (
    Graph,
    Probability,
    check_lt_weights,
    graph_from_edges,
    load_graph,
    parse_probability,
)


def write(tmp_path: Path, text: str, name: str = "graph.txt") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def out_edges(g: Graph) -> dict[tuple[str, str], float]:
    """Edges as {(original u, original v): p}, read back from the out-CSR."""
    result = {}
    for u in range(g.n):
        for e in range(g.out_indptr[u], g.out_indptr[u + 1]):
            result[(g.label(u), g.label(int(g.out_dst[e])))] = float(g.out_prob[e])
    return result


def test_imm_format_keeps_file_probabilities_and_both_csr_agree(tmp_path: Path) -> None:
    path = write(tmp_path, "0 1 0.5\n1 2 0.25\n0 2 1\n")

    loaded = load_graph(path)

    g = loaded.graph
    assert (g.n, g.m) == (3, 3)
    assert out_edges(g) == {("0", "1"): 0.5, ("1", "2"): 0.25, ("0", "2"): 1.0}
    incoming_of_2 = set(g.in_src[g.in_indptr[2] : g.in_indptr[3]].tolist())
    assert incoming_of_2 == {0, 1}
    assert loaded.report.probability == "from file"


def test_plain_edge_list_defaults_to_weighted_cascade(tmp_path: Path) -> None:
    path = write(tmp_path, "# a comment\n\n1 3\n2 3\n3 4  # trailing note\n")

    loaded = load_graph(path)

    assert out_edges(loaded.graph) == {("1", "3"): 0.5, ("2", "3"): 0.5, ("3", "4"): 1.0}
    assert loaded.report.lines_read == 3


def test_comma_separated_string_ids_map_to_dense_ids_and_back(tmp_path: Path) -> None:
    path = write(tmp_path, "alice,bob\nbob,carol\n")

    g = load_graph(path, probability=parse_probability("const:0.2")).graph

    assert g.n == 3
    assert sorted(g.labels.tolist()) == ["alice", "bob", "carol"]
    assert out_edges(g) == {("alice", "bob"): 0.2, ("bob", "carol"): 0.2}
    assert g.index_of(["carol", "alice"]).tolist() == [
        g.labels.tolist().index("carol"),
        g.labels.tolist().index("alice"),
    ]


def test_large_sparse_integer_ids_keep_their_original_values(tmp_path: Path) -> None:
    path = write(tmp_path, "1000000007 42\n42 -5\n")

    g = load_graph(path).graph

    assert g.n == 3
    assert {g.label(i) for i in range(3)} == {"1000000007", "42", "-5"}


def test_ids_that_only_look_alike_as_integers_stay_distinct(tmp_path: Path) -> None:
    path = write(tmp_path, "007 7\n7 1_000\n1_000 1000\n")

    g = load_graph(path).graph

    assert sorted(g.label(i) for i in range(g.n)) == ["007", "1000", "1_000", "7"]


def test_undirected_adds_both_directions_and_counts_a_pair_listed_twice_once(
    tmp_path: Path,
) -> None:
    path = write(tmp_path, "a b\nb a\nb c\n")

    loaded = load_graph(path, directed=False)

    assert set(out_edges(loaded.graph)) == {("a", "b"), ("b", "a"), ("b", "c"), ("c", "b")}
    assert loaded.report.duplicates_dropped == 1
    assert not loaded.report.directed


def test_self_loops_and_duplicates_are_dropped_and_reported(tmp_path: Path) -> None:
    path = write(tmp_path, "1 1\n1 2\n1 2\n2 3\n3 3\n")

    loaded = load_graph(path)

    assert loaded.graph.m == 2
    assert loaded.report.self_loops_dropped == 2
    assert loaded.report.duplicates_dropped == 1
    assert "dropped 2 self-loop(s) and 1 duplicate edge(s)" in loaded.report.summary()


def test_disconnected_graph_loads_and_is_reported(tmp_path: Path) -> None:
    path = write(tmp_path, "1 2\n2 3\n7 8\n")

    report = load_graph(path).report

    assert (report.components, report.largest_component) == (2, 3)
    assert any("not connected: 2 weakly connected components" in s for s in report.summary())


def test_attribute_file_fixes_n_so_isolated_nodes_count(tmp_path: Path) -> None:
    write(tmp_path, "n=5\nm=2\n", name="attribute.txt")
    path = write(tmp_path, "0 1 0.5\n1 2 0.5\n", name="graph_ic.inf")

    loaded = load_graph(path)

    assert loaded.graph.n == 5
    assert loaded.report.isolated_nodes == 2
    assert loaded.graph.labels.tolist() == [0, 1, 2, 3, 4]


def test_wc_on_graph_built_from_arrays_is_one_over_in_degree() -> None:
    g = graph_from_edges(np.array([0, 1, 2, 0]), np.array([3, 3, 3, 1])).graph

    assert out_edges(g) == {("0", "3"): 1 / 3, ("1", "3"): 1 / 3, ("2", "3"): 1 / 3, ("0", "1"): 1}


def test_bad_lines_are_listed_with_line_numbers_in_one_error(tmp_path: Path) -> None:
    path = write(tmp_path, "1 2 0.5\n2 3\n# fine\n3 4 0.5 9\n4 5 0.5\n")

    with pytest.raises(GraphFormatError) as caught:
        load_graph(path)

    message = str(caught.value)
    assert "2 bad line(s)" in message
    assert "line 2: expected 3 fields (u v p), found 2" in message
    assert "line 4: expected 3 fields (u v p), found 4" in message


def test_only_the_first_errors_are_listed_then_a_count(tmp_path: Path) -> None:
    path = write(tmp_path, "1 2\n" + "x\n" * 30)

    with pytest.raises(GraphFormatError) as caught:
        load_graph(path, max_errors=5)

    message = str(caught.value)
    assert "30 bad line(s)" in message
    assert "line 6:" in message
    assert "line 7:" not in message
    assert "and 25 more" in message


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("1.5", "probability 1.5 is outside [0, 1]"),
        ("-0.1", "outside [0, 1]"),
        ("high", "probability 'high' is not a number"),
        ("nan", "outside [0, 1]"),
    ],
)
def test_bad_probability_names_its_line(tmp_path: Path, value: str, why: str) -> None:
    path = write(tmp_path, f"1 2 0.5\n2 3 {value}\n")

    with pytest.raises(GraphFormatError, match=r"line 2: .*") as caught:
        load_graph(path)

    assert why in str(caught.value)


@pytest.mark.parametrize("text", ["", "# only comments\n\n", "   \n"])
def test_empty_graph_is_refused(tmp_path: Path, text: str) -> None:
    with pytest.raises(GraphFormatError, match="empty graph"):
        load_graph(write(tmp_path, text))


def test_graph_of_only_self_loops_is_refused(tmp_path: Path) -> None:
    with pytest.raises(GraphFormatError, match="no edges left after dropping self-loops"):
        load_graph(write(tmp_path, "1 1\n2 2\n"))


def test_missing_and_binary_files_give_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(GraphFormatError, match="no such file"):
        load_graph(tmp_path / "absent.txt")
    binary = tmp_path / "graph.bin"
    binary.write_bytes(b"\xff\xfe\x00\x01")
    with pytest.raises(GraphFormatError, match="not UTF-8"):
        load_graph(binary)


def test_file_probabilities_requested_without_a_third_column(tmp_path: Path) -> None:
    with pytest.raises(GraphFormatError, match="only 'u v' columns"):
        load_graph(write(tmp_path, "1 2\n"), probability=Probability(kind="file"))


@pytest.mark.parametrize("spec", ["const:2", "const:x", "random", "const:"])
def test_bad_probability_spec_is_refused(spec: str) -> None:
    with pytest.raises(GraphFormatError, match="bad probability"):
        parse_probability(spec)


def test_probability_spec_forms() -> None:
    assert parse_probability("WC") == Probability(kind="wc")
    assert parse_probability("file") == Probability(kind="file")
    assert parse_probability("const:0.01") == Probability(kind="const", value=0.01)


def test_arrays_are_read_only() -> None:
    g = graph_from_edges(np.array([0]), np.array([1])).graph

    with pytest.raises(ValueError, match="read-only"):
        g.in_prob[0] = 0.5


def test_lt_refuses_incoming_weights_above_one_and_names_a_node(tmp_path: Path) -> None:
    g = load_graph(write(tmp_path, "a c\nb c\n"), probability=parse_probability("const:0.6")).graph

    with pytest.raises(GraphFormatError, match=r"1 node\(s\) exceed it \(node c sums to 1.2\)"):
        check_lt_weights(g)
    check_lt_weights(load_graph(write(tmp_path, "a c\nb c\n")).graph)  # wc sums to 1


def test_unknown_original_ids_are_reported() -> None:
    g = graph_from_edges(np.array([0]), np.array([1])).graph

    with pytest.raises(GraphFormatError, match="1 node id"):
        g.index_of(["0", "nobody"])
