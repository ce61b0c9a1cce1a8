/**
 * Just enough XML for PAN-OS's XML API (the panos_dag action, the PAN-OS log puller): escaping what we build, and reading its small answers
 * (`<response status="success">…</response>`). A strict little parser: elements, attributes, text, the five
 * named entities and numeric references, comments, CDATA and the XML declaration; no DTDs (an answer with a
 * DOCTYPE is refused, so no entity expansion can be smuggled in). Anything it cannot read is `null`: the
 * caller reports a malformed answer.
 */

export interface XmlElement {
  name: string;
  attrs: Record<string, string>;
  children: XmlElement[];
  /** The element's own text (children's text excluded), entities decoded. */
  text: string;
}

const ENTITIES: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

/** Text safe inside an element or a double-quoted attribute. */
export function xmlEscape(s: string): string {
  return s.replace(/[<>&"']/g, (c) => `&${Object.entries(ENTITIES).find(([, v]) => v === c)![0]};`);
}

function decode(s: string): string | null {
  let bad = false;
  const out = s.replace(/&([^;&\s<]*)(;?)/g, (m, ref: string, semi: string) => {
    const code = /^#x([0-9a-fA-F]{1,6})$/.exec(ref)?.[1] ?? null;
    const dec = /^#([0-9]{1,7})$/.exec(ref)?.[1] ?? null;
    const cp = code !== null ? parseInt(code, 16) : dec !== null ? parseInt(dec, 10) : null;
    if (semi && cp !== null && cp <= 0x10ffff) return String.fromCodePoint(cp);
    if (semi && ENTITIES[ref] !== undefined) return ENTITIES[ref]!;
    bad = true; // a bare & or an unknown entity: not well-formed
    return m;
  });
  return bad ? null : out;
}

const NAME = /^[A-Za-z_][\w.:-]*/;

/** The document's root element, or null when the text is not well-formed XML of this simple kind. */
export function parseXml(input: string): XmlElement | null {
  const stack: XmlElement[] = [];
  let root: XmlElement | null = null;
  let i = 0;
  const s = input;
  while (i < s.length) {
    const lt = s.indexOf('<', i);
    const textEnd = lt === -1 ? s.length : lt;
    if (textEnd > i) {
      const raw = s.slice(i, textEnd);
      const top = stack[stack.length - 1];
      if (!top) {
        if (raw.trim() !== '') return null; // text outside the root
      } else {
        const t = decode(raw);
        if (t === null) return null;
        top.text += t;
      }
    }
    if (lt === -1) break;
    i = lt;
    if (s.startsWith('<?', i)) {
      const end = s.indexOf('?>', i);
      if (end === -1 || root || stack.length) return null;
      i = end + 2;
    } else if (s.startsWith('<!--', i)) {
      const end = s.indexOf('-->', i);
      if (end === -1) return null;
      i = end + 3;
    } else if (s.startsWith('<![CDATA[', i)) {
      const end = s.indexOf(']]>', i);
      const top = stack[stack.length - 1];
      if (end === -1 || !top) return null;
      top.text += s.slice(i + 9, end);
      i = end + 3;
    } else if (s.startsWith('<!', i)) {
      return null; // DOCTYPE and the like: never in an API answer
    } else if (s.startsWith('</', i)) {
      const end = s.indexOf('>', i);
      if (end === -1) return null;
      const name = s.slice(i + 2, end).trim();
      const top = stack.pop();
      if (!top || top.name !== name) return null;
      i = end + 1;
    } else {
      const m = NAME.exec(s.slice(i + 1));
      if (!m) return null;
      const el: XmlElement = { name: m[0], attrs: {}, children: [], text: '' };
      i += 1 + m[0].length;
      // Attributes: name="value" or name='value', then > or />.
      for (;;) {
        const ws = /^\s*/.exec(s.slice(i))![0].length;
        i += ws;
        if (s.startsWith('/>', i) || s.startsWith('>', i)) break;
        if (ws === 0) return null;
        const a = /^([A-Za-z_][\w.:-]*)\s*=\s*("([^"<]*)"|'([^'<]*)')/.exec(s.slice(i));
        if (!a) return null;
        const v = decode(a[3] ?? a[4] ?? '');
        if (v === null || a[1]! in el.attrs) return null;
        el.attrs[a[1]!] = v;
        i += a[0].length;
      }
      const parent = stack[stack.length - 1];
      if (parent) parent.children.push(el);
      else if (root) return null; // a second root
      else root = el;
      if (s.startsWith('/>', i)) i += 2;
      else {
        i += 1;
        stack.push(el);
      }
    }
  }
  return stack.length === 0 ? root : null;
}

/** Every descendant element (depth first, document order) named `name`. */
export function descendants(el: XmlElement, name: string): XmlElement[] {
  const out: XmlElement[] = [];
  const walk = (e: XmlElement) => {
    for (const c of e.children) {
      if (c.name === name) out.push(c);
      walk(c);
    }
  };
  walk(el);
  return out;
}

/** All the text inside an element, its children's included, whitespace collapsed. */
export function allText(el: XmlElement): string {
  const parts: string[] = [el.text];
  for (const c of el.children) parts.push(allText(c));
  return parts.join(' ').replace(/\s+/g, ' ').trim();
}
