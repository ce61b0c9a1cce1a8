/**
 * A deliberately small XML reader for vendor alert notifications (FireEye's AlertSchema, and the like),
 * turned into the same shape the vendors' own JSON uses, so one mapping serves both:
 *
 *   <alert id="7" name="malware-callback"><src><ip>10.0.0.5</ip></src></alert>
 *     → { id: "7", name: "malware-callback", src: { ip: "10.0.0.5" } }
 *
 * Attributes and child elements become keys (a repeated child becomes an array), an element with only text
 * becomes that string, text beside attributes or children goes to "content" (FireEye's JSON convention).
 * Namespace prefixes are dropped and xmlns declarations ignored.
 *
 * Safety, because records are hostile: no DTD at all (a DOCTYPE is refused, so no entity expansion, no
 * external entities), only the five predefined entities and numeric character references, a linear scan
 * with bounded depth, element count and input size. Anything malformed is a ParseError naming the problem.
 */
import { ParseError } from '../detector.js';

export interface XmlElement {
  name: string;
  attributes: Record<string, string>;
  children: XmlElement[];
  text: string;
}

export interface XmlLimits {
  maxDepth?: number;
  maxElements?: number;
  maxChars?: number;
}

const DEFAULTS = { maxDepth: 64, maxElements: 20_000, maxChars: 4 * 1024 * 1024 };
const NAME = /^[A-Za-z_][\w.\-:]*$/;
const ATTR = /([A-Za-z_][\w.\-:]*)\s*=\s*(?:"([^"]*)"|'([^']*)')/y;

/** True when the text plausibly is an XML document (after optional whitespace / BOM). */
export function looksLikeXml(text: string): boolean {
  return /^\uFEFF?\s*<(?:\?xml|!--|[A-Za-z_])/.test(text);
}

/** Parses one XML document; returns its root element. */
export function parseXml(text: string, limits: XmlLimits = {}): XmlElement {
  const max = { ...DEFAULTS, ...limits };
  if (text.length > max.maxChars) throw new ParseError(`XML document of ${text.length} characters is over the ${max.maxChars} limit`);
  const stack: XmlElement[] = [];
  let root: XmlElement | undefined;
  let count = 0;
  let i = 0;
  const n = text.length;
  while (i < n) {
    const lt = text.indexOf('<', i);
    const chunk = text.slice(i, lt < 0 ? n : lt);
    if (chunk.trim() !== '') {
      const top = stack[stack.length - 1];
      if (!top) throw new ParseError(root ? 'XML: text after the root element' : 'XML: text before the root element');
      top.text += decodeEntities(chunk);
    }
    if (lt < 0) break;
    i = lt;
    if (text.startsWith('<?', i)) {
      i = skipPast(text, i, '?>', 'processing instruction');
    } else if (text.startsWith('<!--', i)) {
      i = skipPast(text, i, '-->', 'comment');
    } else if (text.startsWith('<![CDATA[', i)) {
      const end = text.indexOf(']]>', i);
      if (end < 0) throw new ParseError('XML: unterminated CDATA section');
      const top = stack[stack.length - 1];
      if (!top) throw new ParseError('XML: CDATA outside the root element');
      top.text += text.slice(i + 9, end);
      i = end + 3;
    } else if (text.startsWith('<!', i)) {
      throw new ParseError('XML: DOCTYPE and other declarations are not accepted (no DTD processing)');
    } else if (text.startsWith('</', i)) {
      const end = text.indexOf('>', i);
      if (end < 0) throw new ParseError('XML: unterminated end tag');
      const name = localName(text.slice(i + 2, end).trim());
      const open = stack.pop();
      if (!open) throw new ParseError(`XML: end tag </${name.slice(0, 40)}> without a start tag`);
      if (open.name !== name) throw new ParseError(`XML: </${name.slice(0, 40)}> closes <${open.name.slice(0, 40)}>`);
      i = end + 1;
    } else {
      const end = tagEnd(text, i);
      if (end < 0) throw new ParseError('XML: unterminated start tag');
      let body = text.slice(i + 1, end);
      const selfClosing = body.endsWith('/');
      if (selfClosing) body = body.slice(0, -1);
      const m = /^([^\s/>]+)/.exec(body);
      if (!m || !NAME.test(m[1]!)) throw new ParseError(`XML: invalid element name near "${body.slice(0, 40)}"`);
      if (root && stack.length === 0) throw new ParseError('XML: more than one root element');
      if (++count > max.maxElements) throw new ParseError(`XML: more than ${max.maxElements} elements`);
      const el: XmlElement = { name: localName(m[1]!), attributes: parseAttributes(body.slice(m[1]!.length)), children: [], text: '' };
      const parent = stack[stack.length - 1];
      if (parent) parent.children.push(el);
      else root = el;
      if (!selfClosing) {
        if (stack.length >= max.maxDepth) throw new ParseError(`XML: nested deeper than ${max.maxDepth} levels`);
        stack.push(el);
      }
      i = end + 1;
    }
  }
  if (stack.length) throw new ParseError(`XML: <${stack[stack.length - 1]!.name.slice(0, 40)}> is never closed (truncated?)`);
  if (!root) throw new ParseError('XML: no root element');
  return root;
}

/** The element as JSON in the vendors' convention (see the header). */
export function xmlToJson(el: XmlElement): unknown {
  const hasAttrs = Object.keys(el.attributes).length > 0;
  const text = el.text.trim();
  if (!hasAttrs && el.children.length === 0) return text;
  const out = Object.create(null) as Record<string, unknown>;
  for (const [k, v] of Object.entries(el.attributes)) out[k] = v;
  for (const child of el.children) {
    const value = xmlToJson(child);
    const prev = out[child.name];
    // Values are strings or objects, so an array here can only be a list of repeated children.
    if (prev === undefined) out[child.name] = value;
    else if (Array.isArray(prev)) prev.push(value);
    else out[child.name] = [prev, value];
  }
  if (text !== '') out.content = text;
  return out;
}

function parseAttributes(s: string): Record<string, string> {
  const out = Object.create(null) as Record<string, string>;
  let i = 0;
  while (i < s.length) {
    while (i < s.length && /\s/.test(s[i]!)) i++;
    if (i >= s.length) break;
    ATTR.lastIndex = i;
    const m = ATTR.exec(s);
    if (!m) throw new ParseError(`XML: malformed attribute near "${s.slice(i, i + 40)}"`);
    i = ATTR.lastIndex;
    const raw = m[1]!;
    if (raw === 'xmlns' || raw.startsWith('xmlns:')) continue;
    const name = localName(raw);
    if (!(name in out)) out[name] = decodeEntities(m[2] ?? m[3] ?? '');
  }
  return out;
}

/** Where a start tag ends: the first ">" outside quoted attribute values. */
function tagEnd(text: string, from: number): number {
  let quote: string | undefined;
  for (let j = from + 1; j < text.length; j++) {
    const c = text[j]!;
    if (quote) {
      if (c === quote) quote = undefined;
    } else if (c === '"' || c === "'") {
      quote = c;
    } else if (c === '>') {
      return j;
    } else if (c === '<') {
      return -1;
    }
  }
  return -1;
}

function skipPast(text: string, from: number, end: string, what: string): number {
  const at = text.indexOf(end, from + 2);
  if (at < 0) throw new ParseError(`XML: unterminated ${what}`);
  return at + end.length;
}

function localName(name: string): string {
  const colon = name.lastIndexOf(':');
  return colon >= 0 ? name.slice(colon + 1) : name;
}

const ENTITIES: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

function decodeEntities(s: string): string {
  if (!s.includes('&')) return s;
  return s.replace(/&(#x[0-9a-fA-F]{1,6}|#\d{1,7}|[a-zA-Z]{2,4});/g, (m, e: string) => {
    if (e.startsWith('#')) {
      const code = e[1] === 'x' ? Number.parseInt(e.slice(2), 16) : Number.parseInt(e.slice(1), 10);
      return code > 0 && code <= 0x10ffff && !(code >= 0xd800 && code <= 0xdfff) ? String.fromCodePoint(code) : m;
    }
    return Object.hasOwn(ENTITIES, e) ? ENTITIES[e]! : m;
  });
}
