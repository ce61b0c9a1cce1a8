/**
 * A stand-in for the PAN-OS XML API that keeps the registered IP-tag mappings, for panos_dag's contract test and
 * the actions crash test. Shapes follow Palo Alto Networks' PAN-OS XML API documentation ("Use the API to
 * register and unregister IP-tag mappings", type=user-id with a <uid-message>; "API key" in the X-PAN-KEY
 * header; `show object registered-ip` as type=op): answers are `<response status="success|error">`, errors
 * carry <msg>/<line>, a User-ID answer for an entry already (or not) registered is status="error" with a
 * per-entry message, and a refused key is a 403 with `<response status = 'error' code = '403'>…Invalid Credential…`.
 */
import type { ContractReply, ContractRequest } from '../contract.js';

/** The firewall's state and what the next answers should be. */
export class FakePanos {
  /** Each mapping change it made: "register <ip> <tag>", "unregister <ip> <tag>". */
  effects: string[] = [];

  constructor(private readonly key: string) {}

  /** ip → tag → timeout (seconds, as sent). */
  registered = new Map<string, Map<string, string | undefined>>();
  next: ContractReply[] = [];

  handle = (r: ContractRequest): ContractReply => {
    const forced = this.next.shift();
    if (forced) return forced;
    if (r.headers['x-pan-key'] !== this.key) {
      return { status: 403, body: `<response status = 'error' code = '403'><result><msg>Invalid Credential</msg></result></response>` };
    }
    if (r.method !== 'POST' || r.path !== '/api/') return { status: 400, body: '<response status="error"><msg><line>bad request</line></msg></response>' };
    const cmd = r.form.get('cmd') ?? '';
    const type = r.query.get('type');
    if (type === 'op') {
      const ip = /<registered-ip><ip>([^<]+)<\/ip><\/registered-ip>/.exec(cmd)?.[1];
      const tags = ip ? this.registered.get(ip) : undefined;
      const entries = tags && tags.size ? `<entry ip="${ip}" from_agent="0" persistent="1"><tag>${[...tags.keys()].map((t) => `<member>${t}</member>`).join('')}</tag></entry>` : '';
      return { body: `<response status="success"><result>${entries}<count>${entries ? 1 : 0}</count></result></response>` };
    }
    if (type !== 'user-id') return { body: '<response status="error"><msg><line>Unknown type</line></msg></response>' };
    const m = /<payload><(register|unregister)><entry ip="([^"]+)"[^>]*><tag><member(?: timeout="(\d+)")?>([^<]+)<\/member><\/tag><\/entry><\/\1><\/payload>/.exec(cmd);
    if (!m) return { body: '<response status="error"><msg><line>Invalid uid-message</line></msg></response>' };
    const [, op, ip, timeout, tag] = m as unknown as [string, string, string, string | undefined, string];
    const tags = this.registered.get(ip) ?? new Map<string, string | undefined>();
    const entry = (message: string) =>
      `<response status="error"><msg><line><uid-response><version>2.0</version><payload><${op}><entry ip="${ip}" message="${message}"/></${op}></payload></uid-response></line></msg></response>`;
    if (op === 'register') {
      if (tags.has(tag)) return { body: entry(`tag ${tag} already exists, ignore`) };
      tags.set(tag, timeout);
      this.registered.set(ip, tags);
      this.effects.push(`register ${ip} ${tag}`);
    } else {
      if (!tags.delete(tag)) return { body: entry(`tag ${tag} does not exist, ignore`) };
      this.effects.push(`unregister ${ip} ${tag}`);
    }
    return { body: `<response status="success"><result><uid-response><version>2.0</version><payload><${op}></${op}></payload></uid-response></result></response>` };
  };
}
