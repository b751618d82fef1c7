// SentencePiece-style BPE tokenizer.json files for tests, in both layouts Hugging Face writes, with a
// vocabulary trained here on a text (so no download is needed): the special tokens <unk> <s> </s>,
// the 256 byte tokens <0x00>…<0xFF>, the text's characters, then the merged pieces.

export const MARKER = '▁';
export const BYTE_TOKENS = Array.from({ length: 256 }, (_, b) => `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
const SPECIALS = ['<unk>', '<s>', '</s>'];
/** Left out of the vocabulary, so that they are spelled in byte tokens. */
const RARE = ['λ', '…'];

/** BPE as SentencePiece trains it: words start at ▁; the most frequent adjacent pair is merged, `count` times. */
function trainMerges(text: string, count: number): Array<[string, string]> {
  const words = text.replaceAll(' ', MARKER).split(/(?=▁)|\n/).filter((word) => word !== '').map((word) => [...word]);
  const merges: Array<[string, string]> = [];
  while (merges.length < count) {
    const pairs = new Map<string, number>();
    for (const word of words) for (let i = 0; i + 1 < word.length; i++) pairs.set(`${word[i]}\u0000${word[i + 1]}`, (pairs.get(`${word[i]}\u0000${word[i + 1]}`) ?? 0) + 1);
    const best = [...pairs].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))[0];
    if (!best) break;
    const [left, right] = best[0].split('\u0000');
    merges.push([left, right]);
    for (const word of words) {
      for (let i = 0; i + 1 < word.length; i++) if (word[i] === left && word[i + 1] === right) word.splice(i, 2, left + right);
    }
  }
  return merges;
}

function special(id: number, content: string) {
  return { id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true };
}

/** Llama 2's layout (a normalizer puts ▁ first and turns spaces into ▁; no pre-tokenizer), with `merges` merges learnt on `text`. */
export function llama2Json(text: string, merges = 300): any {
  const learnt = trainMerges(text, merges);
  const characters = [...new Set([...text.replaceAll(' ', MARKER).replace(/\n/g, '')])].filter((c) => !RARE.includes(c));
  const vocab: Record<string, number> = {};
  for (const piece of [...SPECIALS, ...BYTE_TOKENS, ...characters, ...learnt.map(([l, r]) => l + r)]) vocab[piece] ??= Object.keys(vocab).length;
  const usable = learnt.filter(([l, r]) => l in vocab && r in vocab);
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: SPECIALS.map((content, id) => special(id, content)),
    normalizer: { type: 'Sequence', normalizers: [{ type: 'Prepend', prepend: MARKER }, { type: 'Replace', pattern: { String: ' ' }, content: MARKER }] },
    pre_tokenizer: null,
    post_processor: { type: 'TemplateProcessing', single: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }] },
    decoder: {
      type: 'Sequence',
      decoders: [{ type: 'Replace', pattern: { String: MARKER }, content: ' ' }, { type: 'ByteFallback' }, { type: 'Fuse' }, { type: 'Strip', content: ' ', start: 1, stop: 0 }],
    },
    model: {
      type: 'BPE', dropout: null, unk_token: '<unk>', continuing_subword_prefix: null, end_of_word_suffix: null,
      fuse_unk: true, byte_fallback: true, ignore_merges: false, vocab, merges: usable.map((pair) => pair.join(' ')),
    },
  };
}

/** The newer layout (Mistral, and Llama 2 converted today): no normalizer, a Metaspace pre-tokenizer with this prepend scheme. */
export function metaspaceJson(text: string, prependScheme: string, merges = 300): any {
  const json = llama2Json(text, merges);
  json.normalizer = null;
  json.pre_tokenizer = { type: 'Metaspace', replacement: MARKER, prepend_scheme: prependScheme, split: false };
  json.decoder = { type: 'Metaspace', replacement: MARKER, prepend_scheme: prependScheme, split: false };
  return json;
}
