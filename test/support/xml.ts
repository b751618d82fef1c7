// Reads an XML document with a real parser (sax, in node_modules for the VSIX packager, which reads
// XML with it; it ships no types): its elements and texts, failing the test on anything a strict
// parser rejects, so a test knows an exported SVG is well-formed.

import assert from 'node:assert/strict';

interface SaxParser {
  onerror: (error: Error) => void;
  onopentag: (tag: { name: string; attributes: Record<string, string> }) => void;
  ontext: (text: string) => void;
  write(xml: string): SaxParser;
  close(): void;
}
const sax = require('sax') as { parser(strict: boolean, options: object): SaxParser };

export interface XmlElement {
  name: string;
  attributes: Record<string, string>;
}

/** The document's elements in order, and its non-blank texts (entities decoded). */
export function parseXml(xml: string): { elements: XmlElement[]; texts: string[] } {
  const parser = sax.parser(true, {});
  const elements: XmlElement[] = [];
  const texts: string[] = [];
  parser.onerror = (error) => assert.fail(`not well-formed XML: ${error.message}`);
  parser.onopentag = ({ name, attributes }) => elements.push({ name, attributes });
  parser.ontext = (text) => void (text.trim() && texts.push(text));
  parser.write(xml).close();
  return { elements, texts };
}

/** The pixels of an SVG's one embedded PNG (its image's data URL). */
export function embeddedPng(elements: readonly XmlElement[]): Buffer {
  const images = elements.filter((e) => e.name === 'image');
  assert.equal(images.length, 1, 'one embedded image');
  const match = images[0].attributes.href.match(/^data:image\/png;base64,([A-Za-z0-9+/=]+)$/);
  assert.ok(match, 'the image is a PNG data URL');
  return Buffer.from(match[1], 'base64');
}
