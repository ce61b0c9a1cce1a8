/**
 * HTML built from untrusted text (alert titles, user names, evidence): the `html` tagged template escapes every
 * interpolated value unless it is itself built by `html`. Used by the e-mail reports and the pages the API
 * serves (the approval links' confirmation page).
 */
const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escapes text for HTML element content and quoted attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]!);
}

/** Markup built by `html`; anything else interpolated into `html` is escaped. */
export class SafeHtml {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

function interpolate(v: unknown): string {
  if (v instanceof SafeHtml) return v.value;
  if (Array.isArray(v)) return v.map(interpolate).join('');
  if (v === null || v === undefined) return '';
  return escapeHtml(String(v));
}

/** Tagged template: `html\`<td>${untrusted}</td>\`` escapes the value; nested `html` results pass as markup. */
export function html(strings: TemplateStringsArray, ...values: unknown[]): SafeHtml {
  let out = strings[0] ?? '';
  values.forEach((v, i) => {
    out += interpolate(v) + (strings[i + 1] ?? '');
  });
  return new SafeHtml(out);
}
