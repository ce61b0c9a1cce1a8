/**
 * Checks and prepares the configured query of a SQL inventory (providers/sql_inventory.ts): it must be ONE
 * read-only SELECT with the subject bound through the named placeholder `:value`, which becomes the driver's
 * own parameter ($1 for PostgreSQL, ? for MariaDB, :value kept for SQLite). The value is always sent as a bound
 * parameter, never spliced into the text.
 *
 * The check runs at config time, so it reads the SQL with a small lexer rather than a parser: string literals,
 * quoted identifiers, comments and PostgreSQL dollar quoting are skipped, so a `;` or `:value` inside them
 * counts for nothing. It refuses a second statement, statements other than SELECT/WITH, words that write
 * (INSERT, UPDATE, INTO, …) and other placeholder styles. It is a guard against mistakes, not the security
 * boundary: that is the read-only database role, plus the read-only session the drivers open.
 *
 * This folder is not a provider folder: discover.ts only reads the files directly inside providers/.
 */

export type SqlDialect = 'postgres' | 'mariadb' | 'sqlite';

export interface PreparedQuery {
  /** The text sent to the server, placeholders in the driver's style. */
  sql: string;
  /** How many times `:value` occurs (MariaDB's `?` needs the value once per occurrence). */
  uses: number;
}

/**
 * Words that write, lock, load or reach outside the query, refused anywhere outside strings and comments.
 * Not REPLACE: it is also the string function that normalises MACs (REPLACE INTO is caught by INTO).
 */
const REFUSED = new Set([
  'insert', 'update', 'delete', 'merge', 'upsert', 'drop', 'alter', 'create', 'truncate', 'rename',
  'grant', 'revoke', 'into', 'call', 'exec', 'execute', 'do', 'copy', 'load', 'lock', 'unlock', 'vacuum',
  'attach', 'detach', 'pragma', 'set', 'handler', 'prepare', 'deallocate', 'listen', 'notify', 'outfile', 'dumpfile',
]);

const PLACEHOLDER = 'value';

/** The query ready for `dialect`, or the reason it is refused (a sentence for `key: reason`). */
export function prepareQuery(text: string, dialect: SqlDialect): PreparedQuery | { problem: string } {
  const out: string[] = [];
  let uses = 0;
  let firstWord: string | null = null;
  let ended = false; // a `;` was seen: only blanks and comments may follow
  const n = text.length;
  let i = 0;
  const problem = (p: string) => ({ problem: p });
  const backslashEscapes = dialect === 'mariadb';

  /** Index after a quoted run opened at `i` by `q` (doubled quote escapes it; backslash too when asked). */
  const skipQuoted = (q: string, backslash: boolean): number | null => {
    let j = i + 1;
    while (j < n) {
      const c = text[j]!;
      if (backslash && c === '\\') j += 2;
      else if (c === q) {
        if (text[j + 1] === q) j += 2;
        else return j + 1;
      } else j++;
    }
    return null;
  };

  while (i < n) {
    const c = text[i]!;
    const next = text[i + 1];
    let end: number | null;
    if (/\s/.test(c)) {
      out.push(c);
      i++;
      continue;
    }
    // Comments: -- and /* */ everywhere, # in MariaDB.
    if ((c === '-' && next === '-') || (c === '#' && dialect === 'mariadb')) {
      const nl = text.indexOf('\n', i);
      end = nl < 0 ? n : nl;
      out.push(text.slice(i, end));
      i = end;
      continue;
    }
    if (c === '/' && next === '*') {
      const close = text.indexOf('*/', i + 2);
      if (close < 0) return problem('has an unterminated /* comment');
      out.push(text.slice(i, close + 2));
      i = close + 2;
      continue;
    }
    if (ended) return problem('must be a single SELECT statement (found text after ";")');
    if (c === ';') {
      ended = true; // a trailing ";" is harmless; it is dropped
      i++;
      continue;
    }
    if (c === "'" || c === '"' || c === '`') {
      // PostgreSQL E'…' strings take backslash escapes; MariaDB strings always do.
      const eString = c === "'" && dialect === 'postgres' && /^[eE]$/.test(out.at(-1) ?? '');
      end = skipQuoted(c, (backslashEscapes && c !== '`') || eString);
      if (end === null) return problem(`has an unterminated ${c} quote`);
      out.push(text.slice(i, end));
      i = end;
      continue;
    }
    if (c === '$' && dialect === 'postgres') {
      const tag = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(text.slice(i));
      if (tag) {
        const close = text.indexOf(tag[0], i + tag[0].length);
        if (close < 0) return problem('has an unterminated dollar-quoted string');
        out.push(text.slice(i, close + tag[0].length));
        i = close + tag[0].length;
        continue;
      }
      if (/^\$\d/.test(text.slice(i))) return problem(`uses a positional parameter; bind the subject with :${PLACEHOLDER}`);
    }
    if (c === '?') {
      // PostgreSQL's jsonb ? operators look the same; an inventory query has no need of them.
      return problem(`uses "?"; bind the subject with :${PLACEHOLDER}`);
    }
    if (c === ':') {
      if (next === ':') {
        out.push('::'); // a PostgreSQL cast
        i += 2;
        continue;
      }
      const name = /^:([A-Za-z_][A-Za-z0-9_]*)/.exec(text.slice(i));
      if (name) {
        if (name[1] !== PLACEHOLDER) return problem(`has the placeholder :${name[1]}; the only one bound is :${PLACEHOLDER}`);
        uses++;
        out.push(dialect === 'postgres' ? '$1' : dialect === 'mariadb' ? '?' : `:${PLACEHOLDER}`);
        i += name[0].length;
        continue;
      }
    }
    const word = /^[A-Za-z_][A-Za-z0-9_$]*/.exec(text.slice(i));
    if (word) {
      const w = word[0].toLowerCase();
      firstWord ??= w;
      if (REFUSED.has(w)) return problem(`must only read: "${word[0]}" is not allowed in a SELECT here`);
      out.push(word[0]);
      i += word[0].length;
      continue;
    }
    firstWord ??= c;
    out.push(c);
    i++;
  }
  if (firstWord !== 'select' && firstWord !== 'with') return problem('must be a SELECT statement');
  if (uses === 0) return problem(`needs the placeholder :${PLACEHOLDER} where the subject goes`);
  return { sql: out.join('').trim(), uses };
}
