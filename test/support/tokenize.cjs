// Encodes a text file with the extension's tokenizer, for the Python parity tests.
// Usage: node test/support/tokenize.cjs TOKENIZER.json TEXT_FILE
// Prints {"ids": [...], "offsets": [[start, end], ...]} (UTF-16 offsets into the file's text).
// Needs the compiled extension: run `npx tsc -p .` first.
const fs = require('node:fs');
const path = require('node:path');
const { loadTokenizer } = require(path.join(__dirname, '..', '..', 'out', 'extension', 'core', 'tokenizer.js'));

const [tokenizerPath, textPath] = process.argv.slice(2);
const tokenizer = loadTokenizer(fs.readFileSync(tokenizerPath, 'utf8'));
const encoding = tokenizer.encode(fs.readFileSync(textPath, 'utf8'));
process.stdout.write(JSON.stringify(encoding));
