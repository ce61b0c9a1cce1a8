/**
 * A small reader for the STIX 2.1 patterns that indicators in feeds actually use: equality comparisons on
 * the value of an address, domain, URL or e-mail address, or on a file hash, joined by OR —
 *
 *   [ipv4-addr:value = '198.51.100.7' OR ipv4-addr:value ISSUBSET '203.0.113.0/24']
 *   [file:hashes.'SHA-256' = 'aec0…'] OR [domain-name:value = 'evil.example']
 *
 * A pattern is turned into the indicators any one of which is enough to match it. Patterns that need more
 * than one thing to be true (AND, FOLLOWEDBY, NOT, qualifiers such as REPEATS or WITHIN) cannot be answered
 * by looking at one observable, so they yield nothing and are counted as skipped; in an OR, comparisons we
 * cannot read (LIKE, MATCHES, other object types) are dropped and the readable ones kept, which is sound
 * because each side of an OR matches on its own. STIX 2.1 §9 (patterning) is the grammar.
 */

export type PatternIndicatorType = 'ip' | 'cidr' | 'domain' | 'url' | 'email' | 'md5' | 'sha1' | 'sha256';

export interface PatternIndicator {
  type: PatternIndicatorType;
  /** As written in the pattern (not yet normalised). */
  value: string;
}

export type PatternResult =
  | { ok: true; indicators: PatternIndicator[]; /** Comparisons of an OR that were not readable. */ dropped: number }
  | { ok: false; reason: 'conjunction' | 'qualifier' | 'unsupported' | 'syntax'; message: string };

type Token = { kind: 'punct'; text: '[' | ']' | '(' | ')' } | { kind: 'string'; text: string } | { kind: 'word'; text: string };

class PatternSyntaxError extends Error {}

function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    if (/\s/.test(c)) {
      i++;
    } else if (c === '[' || c === ']' || c === '(' || c === ')') {
      out.push({ kind: 'punct', text: c });
      i++;
    } else if (c === "'") {
      // A string literal: \' and \\ are its only escapes.
      let s = '';
      i++;
      for (;;) {
        if (i >= src.length) throw new PatternSyntaxError('unterminated string');
        const d = src[i]!;
        if (d === '\\' && i + 1 < src.length) {
          s += src[i + 1];
          i += 2;
        } else if (d === "'") {
          i++;
          break;
        } else {
          s += d;
          i++;
        }
      }
      out.push({ kind: 'string', text: s });
    } else {
      // A word: an object path (with quoted path steps such as hashes.'SHA-256'), an operator or a keyword.
      let w = '';
      while (i < src.length && !/[\s[\]()]/.test(src[i]!)) {
        if (src[i] === "'" && w.endsWith('.')) {
          const end = src.indexOf("'", i + 1);
          if (end < 0) throw new PatternSyntaxError('unterminated path step');
          w += src.slice(i, end + 1);
          i = end + 1;
        } else if (src[i] === "'") {
          break;
        } else {
          w += src[i];
          i++;
        }
      }
      if (!w) throw new PatternSyntaxError(`unexpected "${c}"`);
      // "a='b'" has no spaces around the operator: split the operator off.
      const m = /^([^=!<>]+)(=|!=|<=|>=|<|>)$/.exec(w);
      if (m) out.push({ kind: 'word', text: m[1]! }, { kind: 'word', text: m[2]! });
      else out.push({ kind: 'word', text: w });
    }
  }
  return out;
}

/** The set of single observables any one of which satisfies the expression, or why there is none. */
type Alt = { kind: 'any'; indicators: PatternIndicator[]; dropped: number } | { kind: 'none'; reason: 'conjunction' | 'qualifier' | 'unsupported'; message: string };

const HASHES: Record<string, PatternIndicatorType> = { md5: 'md5', sha1: 'sha1', 'sha-1': 'sha1', sha256: 'sha256', 'sha-256': 'sha256' };
const QUALIFIERS = new Set(['WITHIN', 'REPEATS', 'START']);

function comparisonType(path: string): PatternIndicatorType | null {
  const [object, prop] = [path.slice(0, path.indexOf(':')).toLowerCase(), path.slice(path.indexOf(':') + 1)];
  if (prop === 'value') {
    if (object === 'ipv4-addr' || object === 'ipv6-addr') return 'ip';
    if (object === 'domain-name') return 'domain';
    if (object === 'url') return 'url';
    if (object === 'email-addr') return 'email';
  }
  if (object === 'file') {
    const m = /^hashes\.(?:'([^']+)'|"([^"]+)"|([A-Za-z0-9-]+))$/.exec(prop);
    const name = (m?.[1] ?? m?.[2] ?? m?.[3])?.toLowerCase();
    if (name && HASHES[name]) return HASHES[name]!;
  }
  return null;
}

class Parser {
  private i = 0;
  constructor(private readonly tokens: Token[]) {}

  private peek(): Token | undefined {
    return this.tokens[this.i];
  }
  private isWord(...words: string[]): boolean {
    const t = this.peek();
    return t?.kind === 'word' && words.includes(t.text.toUpperCase());
  }
  private expect(text: string): void {
    const t = this.tokens[this.i++];
    if (!t || t.text !== text || t.kind === 'string') throw new PatternSyntaxError(`expected "${text}"${t ? `, found "${t.text}"` : ' at the end'}`);
  }

  parse(): Alt {
    const alt = this.observationOr();
    if (this.i < this.tokens.length) throw new PatternSyntaxError(`unexpected "${this.peek()!.text}"`);
    return alt;
  }

  // Observation expressions: OR binds loosest, then AND, then FOLLOWEDBY (STIX 2.1 §9.5 precedence).
  private observationOr(): Alt {
    let alt = this.observationAnd();
    while (this.isWord('OR')) {
      this.i++;
      alt = either(alt, this.observationAnd());
    }
    return alt;
  }
  private observationAnd(): Alt {
    let alt = this.observationFollowed();
    while (this.isWord('AND')) {
      this.i++;
      this.observationFollowed();
      alt = { kind: 'none', reason: 'conjunction', message: 'observations joined by AND' };
    }
    return alt;
  }
  private observationFollowed(): Alt {
    let alt = this.observation();
    while (this.isWord('FOLLOWEDBY')) {
      this.i++;
      this.observation();
      alt = { kind: 'none', reason: 'conjunction', message: 'observations joined by FOLLOWEDBY' };
    }
    return alt;
  }
  private observation(): Alt {
    let alt: Alt;
    if (this.peek()?.text === '(' && this.peek()?.kind === 'punct') {
      this.i++;
      alt = this.observationOr();
      this.expect(')');
    } else {
      this.expect('[');
      alt = this.comparisonOr();
      this.expect(']');
    }
    while (this.isWord(...QUALIFIERS)) {
      this.skipQualifier();
      alt = { kind: 'none', reason: 'qualifier', message: 'a qualifier (WITHIN, REPEATS, START/STOP) limits the observation' };
    }
    return alt;
  }
  private skipQualifier(): void {
    const q = this.tokens[this.i++]!.text.toUpperCase();
    // WITHIN n SECONDS | REPEATS n TIMES | START t'…' STOP t'…': consumed, not read.
    if (q !== 'START') {
      this.i += 2;
      return;
    }
    while (this.i < this.tokens.length && !this.isWord('STOP')) this.i++;
    this.i++;
    if (this.peek()?.kind === 'word') this.i++;
    if (this.peek()?.kind === 'string') this.i++;
  }

  // Comparison expressions inside [ ]: OR binds looser than AND.
  private comparisonOr(): Alt {
    let alt = this.comparisonAnd();
    while (this.isWord('OR')) {
      this.i++;
      alt = either(alt, this.comparisonAnd());
    }
    return alt;
  }
  private comparisonAnd(): Alt {
    let alt = this.comparison();
    while (this.isWord('AND')) {
      this.i++;
      this.comparison();
      alt = { kind: 'none', reason: 'conjunction', message: 'comparisons joined by AND' };
    }
    return alt;
  }
  private comparison(): Alt {
    const t = this.peek();
    if (t?.kind === 'punct' && t.text === '(') {
      this.i++;
      const alt = this.comparisonOr();
      this.expect(')');
      return alt;
    }
    const path = this.tokens[this.i++];
    if (!path || path.kind !== 'word' || !path.text.includes(':')) throw new PatternSyntaxError(`expected an object path${path ? `, found "${path.text}"` : ''}`);
    let negated = false;
    if (this.isWord('NOT')) {
      negated = true;
      this.i++;
    }
    const op = this.tokens[this.i++];
    if (!op || op.kind !== 'word') throw new PatternSyntaxError(`expected an operator after ${path.text}`);
    const value = this.comparisonValue();
    const operator = op.text.toUpperCase();
    const type = comparisonType(path.text);
    if (negated || operator === '!=') return { kind: 'none', reason: 'unsupported', message: `negated comparison on ${path.text}` };
    if (type && operator === '=' && value !== null) return { kind: 'any', indicators: [{ type: type === 'ip' && value.includes('/') ? 'cidr' : type, value }], dropped: 0 };
    if (type === 'ip' && operator === 'ISSUBSET' && value !== null) return { kind: 'any', indicators: [{ type: value.includes('/') ? 'cidr' : 'ip', value }], dropped: 0 };
    return { kind: 'none', reason: 'unsupported', message: `${path.text} ${operator}` };
  }
  /** A string literal (its text), or any other constant (number, boolean, set, b'…', t'…': null). */
  private comparisonValue(): string | null {
    const t = this.tokens[this.i++];
    if (!t) throw new PatternSyntaxError('expected a value at the end');
    if (t.kind === 'string') return t.text;
    if (t.kind === 'punct' && t.text === '(') {
      // A set constant ('a', 'b'): skip to its closing parenthesis.
      while (this.i < this.tokens.length && this.tokens[this.i]!.text !== ')') this.i++;
      this.expect(')');
      return null;
    }
    if (t.kind === 'word' && /^[bht]$/i.test(t.text) && this.peek()?.kind === 'string') this.i++;
    return null;
  }
}

/** OR: the readable sides together; an unreadable side is dropped (the other sides match alone). */
function either(a: Alt, b: Alt): Alt {
  if (a.kind === 'any' && b.kind === 'any') return { kind: 'any', indicators: [...a.indicators, ...b.indicators], dropped: a.dropped + b.dropped };
  if (a.kind === 'any') return { ...a, dropped: a.dropped + 1 };
  if (b.kind === 'any') return { ...b, dropped: b.dropped + 1 };
  // Neither side is readable: say why the first is not.
  return a;
}

/** The indicators a STIX 2.1 pattern stands for (any one matches), or why it gives none. */
export function parseStixPattern(pattern: string): PatternResult {
  try {
    const alt = new Parser(tokenize(pattern)).parse();
    if (alt.kind === 'none') return { ok: false, reason: alt.reason, message: alt.message };
    return { ok: true, indicators: alt.indicators, dropped: alt.dropped };
  } catch (e) {
    if (e instanceof PatternSyntaxError) return { ok: false, reason: 'syntax', message: e.message };
    throw e;
  }
}
