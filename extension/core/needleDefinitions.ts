// The Needle Test's definitions, read from shared/needles.json, the file the Python model reads
// too (model/needle_forms.py): word lists, code styles, the prose form, value shapes, the paper's
// N/R settings, the scoring rules and the defaults. The JSON is bundled into the extension (esbuild
// inlines it), and checked once on load so that a bad edit names its field.

import { z } from 'zod';
import definitionsJson from '../../shared/needles.json';
import { parseOrThrow } from '../../shared/schemas';

/** How a code style spells a key from its two words and random tag: CACHE_TIMEOUT_qzvk, apiToken_xwbe. */
export const KEY_CASES = {
  upper_snake: (first: string, second: string, tag: string) => `${first.toUpperCase()}_${second.toUpperCase()}_${tag}`,
  camel: (first: string, second: string, tag: string) => `${first}${second[0].toUpperCase()}${second.slice(1)}_${tag}`,
};

const words = z.array(z.string().min(1)).min(1);
const count = z.number().int().positive();
/** Templates use {key} and {value}; a query ends right before the continuation (" VALUE"). */
const lineForm = { needle: z.string(), query: z.string(), queryClose: z.string() };

const definitionsSchema = z.object({
  code: z.object({
    keyWordsFirst: words,
    keyWordsSecond: words,
    keyTagLength: count,
    styles: z.array(z.object({ keyCase: z.enum(Object.keys(KEY_CASES) as [keyof typeof KEY_CASES]), ...lineForm, quotedValues: z.boolean() })).min(1),
  }),
  prose: z.object({ attributes: words, adjectives: words, nouns: words, key: z.string(), ...lineForm }),
  values: z.object({
    /** Both ends included. */
    numberRange: z.tuple([z.number().int(), z.number().int()]),
    quotedTagLength: count,
    /** Of the values of a style with quoted values. */
    quotedShare: z.number().min(0).max(1),
  }),
  configs: z.array(z.object({ name: z.string(), needles: count, queries: count })).min(1),
  scoring: z.object({
    /** Between a query and its value. */
    continuationPrefix: z.string(),
    /** A character that, right after the generated value, makes the answer not exact. */
    valueExtenderPattern: z.string(),
  }),
  defaults: z.object({ trials: count, needles: count, queries: count, seed: z.number().int() }),
  /** The shortest document length offered; the offers double from it up to the context. */
  lengths: z.object({ shortest: count }),
});
export type NeedleDefinitions = z.infer<typeof definitionsSchema>;
export type CodeStyle = NeedleDefinitions['code']['styles'][number];

/** Checks the definitions; an Error names the bad field. */
export function parseNeedleDefinitions(data: unknown): NeedleDefinitions {
  return parseOrThrow(definitionsSchema, data, (field, problem) => new Error(`shared/needles.json: ${field}: ${problem}; fix that field (git diff shows what changed from the committed file)`));
}

export const NEEDLES = parseNeedleDefinitions(definitionsJson);

/** The languages (VS Code language ids) whose code each style's needle line is written in. */
const STYLE_LANGUAGES: Record<string, readonly string[]> = {
  '{key} = {value}': ['python', 'ruby', 'julia'],
  'const {key} = {value};': ['javascript', 'javascriptreact', 'typescript', 'typescriptreact', 'vue', 'svelte'],
  '#define {key} {value}': ['c', 'cpp', 'cuda-cpp', 'objective-c', 'objective-cpp'],
};

/** The code style written in `language`, if one is. */
export function codeStyleFor(language: string | undefined): CodeStyle | undefined {
  return language === undefined ? undefined : NEEDLES.code.styles.find((style) => STYLE_LANGUAGES[style.needle]?.includes(language));
}

/** `template` with each {name} replaced by fields[name] (the templates' Python str.format fields). */
export function fillTemplate(template: string, fields: Record<string, string>): string {
  return template.replace(/\{(\w+)\}/g, (_, name: string) => {
    if (!(name in fields)) throw new Error(`shared/needles.json: the template "${template}" uses {${name}}, which is not one of ${Object.keys(fields).join(', ')}`);
    return fields[name];
  });
}
