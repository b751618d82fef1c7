"""model.generate's greedy decoding, the reference of Continue Text's (test/unit/generate.test.ts
checks the extension against it): each step appends the argmax of the logits after the sequence so
far, the lowest id on a tie, among the first `vocab` ids only."""

import torch

from model.generate import greedy_decode


def scripted(rows):
    """next_logits giving rows[len(ids) - 1] after ids, recording what it was asked."""
    asked = []

    def next_logits(ids):
        asked.append(list(ids))
        return torch.tensor(rows[len(ids) - 1])
    return next_logits, asked


def test_each_step_runs_the_whole_sequence_and_appends_its_argmax():
    next_logits, asked = scripted([[0.0, 2.0, 1.0], [3.0, 0.0, 1.0]])
    result = greedy_decode(next_logits, [0], 2)
    assert result["ids"] == [1, 0]
    assert asked == [[0], [0, 1]]
    assert result["margins"] == [1.0, 2.0]


def test_a_tie_goes_to_the_lowest_id_and_padded_ids_are_never_chosen():
    next_logits, _ = scripted([[1.0, 5.0, 5.0, 9.0]])
    result = greedy_decode(next_logits, [0], 1, vocab=3)
    assert result["ids"] == [1]
    assert result["margins"] == [0.0]
