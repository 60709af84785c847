"""The interface of a data kind (see ``__init__.py``)."""
from __future__ import annotations

from ..errors import MuseganError


class DataKind:
    """What one representation knows: which files it reads and how (``prepare``), the
    datasets, feature layout and baseline of a prepared corpus (training), the model
    settings that come from the data, and how a trained model speaks (generation and
    the samples written while training)."""

    name = ""  # the value of data.kind
    suffixes: tuple = ()  # the files prepare reads
    encoding_keys: tuple = ()  # the DataConfig fields that change what prepare writes
    heads: tuple = ()  # the output heads of the sequence families that fit these frames
    default_head = ""  # the head a new run of a sequence family takes ("" : the family's own default)
    families: dict = {}  # a public family name -> the model module that plays it on this kind
    sample_example = "song.mid"  # what `musegan generate RUN --out ...` writes, for hints
    reads = ""  # another kind whose prepared corpus (files, encoding, cache) this one reads ("": its own)

    @property
    def prepared(self) -> str:
        """The kind a corpus is prepared as for this one (``encoding.kind`` of its manifest)."""
        return self.reads or self.name

    # -- prepare ------------------------------------------------------------------
    def encode(self, paths: list, config) -> tuple:
        """A worker's chunk of files -> ``(rows, results)``: the rows of the files read,
        one after the other, and per file ``(n_rows, header, reason)``, header None where
        ``reason`` says why it was skipped."""
        raise NotImplementedError

    # -- training -----------------------------------------------------------------
    def info(self, corpus, config) -> dict:
        """The corpus-wide facts a model is trained and decoded with (plain data, kept in
        every checkpoint)."""
        raise NotImplementedError

    def datasets(self, corpus, config, info: dict, train_songs: list, valid_songs: list) -> tuple:
        """``(train, valid, plain)``: random training windows, fixed validation windows,
        and fixed training windows (data statistics)."""
        raise NotImplementedError

    def model_settings(self, config, info: dict) -> dict:
        """The sizes a model takes from the data (``n_features``, ...)."""
        raise NotImplementedError

    def baseline(self, train_frames, valid_frames) -> tuple[float, str]:
        """The NLL per frame of a model of independent features (the figure to beat),
        and what it is."""
        raise NotImplementedError

    def check_head(self, head: str | None) -> None:
        if head is not None and head not in self.heads:
            raise MuseganError(f"model.head={head} does not fit a {self.name} corpus ({' or '.join(self.heads)})")

    # -- generation -----------------------------------------------------------------
    def player(self, model, config, info: dict):
        """The model with its decoder (``generate(...)``)."""
        raise NotImplementedError

    def write_samples(self, player, folder, step: int, train) -> None:
        """The samples written at a checkpoint (``train.samples`` of them)."""
        raise NotImplementedError


def encode_each(paths: list, config, encode_one) -> tuple:
    """``DataKind.encode`` file by file with ``encode_one(path, config) -> (rows,
    header)``: a file that fails is skipped with its reason and never stops the chunk."""
    import numpy as np

    from ..io.midi import UnreadableFile

    rows, results = [], []
    for path in paths:
        try:
            r, header = encode_one(path, config)
            rows.append(r)
            results.append((len(r), header, ""))
        except UnreadableFile as e:
            results.append((0, None, str(e)))
        except Exception as e:  # a bug or a library failure on one file must not stop the corpus
            results.append((0, None, f"{type(e).__name__}: {' '.join(str(e).split())[:200]}"))
    return (np.concatenate(rows) if rows else None), results
