"""Training rows (model/data.py): a long copy row holds one copy per 1,024-token segment, so a step
of one long row teaches as many copies as a step of several short ones."""

import numpy as np

from model.data import COPY_SEGMENT, IGNORE, Batches, Mix
from model.fixtures import FIXTURE_TOKENIZER
from model.package import load_tokenizer

FILLERS = {"code": ["def twice(x):\n    return 2 * x\n" * 40], "prose": ["The river runs to the sea.\n" * 40]}


def random_copy_rows(seq_len: int, rows: int = 4):
    tokenizer = load_tokenizer(FIXTURE_TOKENIZER)
    data = np.array(tokenizer.encode(FILLERS["code"][0] * 20), dtype=np.uint16)
    batches = Batches(data, tokenizer, FILLERS, Mix(span_copy=0.0, random_copy=1.0, needles=0.0, whole_row_repeats=0.0), seed=3)
    return batches(0, rows=rows, seq_len=seq_len)[1].numpy()


def test_a_long_random_copy_row_masks_a_first_copy_in_every_segment():
    for targets in random_copy_rows(4 * COPY_SEGMENT):
        masked = targets == IGNORE
        for segment in range(4):
            part = masked[segment * COPY_SEGMENT:(segment + 1) * COPY_SEGMENT]
            # The first copy (8-64 tokens) and the second copy's first token; a target is its token
            # shifted by one, so a copy at a segment's edge may lend one to the segment before.
            assert 8 <= part.sum() <= 66, f"segment {segment}: {part.sum()} masked targets"


def test_a_row_of_one_segment_holds_one_copy():
    for targets in random_copy_rows(COPY_SEGMENT):
        assert 9 <= (targets == IGNORE).sum() <= 65
