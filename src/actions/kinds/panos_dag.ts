/**
 * panos_dag: blocks an offending address on a Palo Alto Networks firewall by registering it, with a tag, through
 * the User-ID part of the PAN-OS XML API; a dynamic address group matching that tag feeds a security rule that
 * denies it. Undo unregisters the tag. Reversible.
 *
 *   actions:
 *     targets:
 *       - name: pa-edge
 *         kind: panos_dag
 *         url: https://fw1.corp.example          # management interface
 *         api_key: ${env:PANOS_API_KEY}          # sent as X-PAN-KEY, never in the URL
 *         tag: fido-block                        # the DAG's match criterion
 *         allow_private: true                    # the management interface is on a private address
         block_private: false                   # default: only public addresses are blocked
 *         tls_ca_file: panos-ca.pem
 *         timeout: 1h                            # tag timeout unless the rule's params say otherwise
 *         never_block: [192.0.2.53/32]
 *
 * Which address: lib/target-address.ts (params.address, else the incident's first public src/dst address).
 * The request: POST /api/?type=user-id with `cmd=<uid-message>…<register><entry ip=… persistent="1"><tag>
 * <member timeout="…">TAG</member>…` (form body). The tag timeout is the safety net that lifts the block even
 * when Fido is down; the rule's `for:` undoes it sooner through the executor.
 *
 * Idempotent both ways: PAN-OS answers a register of a tag already there, and an unregister of one not there,
 * with status="error" and a per-entry message ("already exists" / "does not exist"); those are read as done.
 * Reconcile: `type=op` `<show><object><registered-ip><ip>…</ip></registered-ip></object></show>` and look for
 * the tag on the address. An undo row is not reconciled (undo is idempotent: it is simply made again).
 */
import { Type, type Static } from 'typebox';
import type { ComponentProblem } from '../../component/component.js';
import { canonicalIp } from '../../enrich/values.js';
import { ActionError, defineAction, type ActionContext, type ActionOutcome, type ActionTarget, type Reconciled, type UndoContext } from '../action.js';
import { statusFailure, type FwResponse } from './lib/fw-http.js';
import { blockSeconds, fwSettingsProblems, fwSettingsSchema, openFirewall } from './lib/fw-target.js';
import { allText, descendants, parseXml, xmlEscape, type XmlElement } from '../../util/xml.js';

const KIND = 'panos_dag';
/** Tag names we accept: a safe subset of what PAN-OS allows (127 characters). */
const TAG = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,126}$/;

export const PanosDagConfigSchema = Type.Object(
  {
    name: Type.String(),
    kind: Type.Literal(KIND),
    ...fwSettingsSchema,
    api_key: Type.String({ minLength: 1, description: 'API key, as a secret reference: ${env:NAME} or ${file:/path}' }),
    tag: Type.String({ pattern: TAG.source, description: 'Tag registered on the address; the dynamic address group matches it' }),
    vsys: Type.Optional(Type.String({ pattern: '^vsys[0-9]{1,4}$', description: 'Virtual system of a multi-vsys firewall (default: the API default, vsys1)' })),
  },
  { additionalProperties: false },
);
export type PanosDagConfig = Static<typeof PanosDagConfigSchema>;

/** PAN-OS takes tag timeouts up to 30 days (0 would mean "never": not offered, a block must end). */
const MAX_TAG_TIMEOUT_MS = 30 * 86_400_000;
const DEFAULT_TIMEOUT_MS = 3_600_000;

function check(cfg: PanosDagConfig): ComponentProblem[] {
  return fwSettingsProblems(cfg);
}

/** The registration message; the address is canonical (vetted), the tag matches the schema, both escaped anyway. */
export function uidMessage(op: 'register' | 'unregister', address: string, tag: string, timeoutS?: number): string {
  const member = timeoutS === undefined ? `<member>${xmlEscape(tag)}</member>` : `<member timeout="${timeoutS}">${xmlEscape(tag)}</member>`;
  const persistent = op === 'register' ? ' persistent="1"' : '';
  return `<uid-message><type>update</type><payload><${op}><entry ip="${xmlEscape(address)}"${persistent}><tag>${member}</tag></entry></${op}></payload></uid-message>`;
}

/** A PAN-OS answer read: its status, the error lines, and the per-entry messages of a User-ID answer. */
interface PanAnswer {
  ok: boolean;
  code: string | undefined;
  /** The error lines, or the per-entry messages when the answer has them. */
  said: string;
  /** Per-entry messages of a User-ID answer ("tag … already exists, ignore"). */
  entries: string[];
  root: XmlElement;
}

function readAnswer(res: FwResponse): PanAnswer | null {
  const root = parseXml(res.text);
  if (!root || root.name !== 'response') return null;
  const status = root.attrs.status;
  if (status !== 'success' && status !== 'error') return null;
  const entries = descendants(root, 'entry').map((e) => e.attrs.message).filter((m): m is string => !!m);
  const lines = descendants(root, 'msg').map(allText).filter(Boolean);
  return { ok: status === 'success', code: root.attrs.code, said: (entries.length ? entries : lines).join('; ') || allText(root), entries, root };
}

async function create(cfg: PanosDagConfig, deps: { configDir: string }): Promise<ActionTarget> {
  const fw = openFirewall(KIND, cfg, deps, 'api_key', (apiKey) => ({ 'X-PAN-KEY': apiKey }));
  const { http } = fw;

  /** One XML API call; resolves with the answer when status="success" or when `tolerate` accepts the error. */
  async function call(type: 'user-id' | 'op', cmd: string, signal: AbortSignal, tolerate: (entries: string[]) => boolean = () => false) {
    const req = { method: 'POST' as const, path: '/api/', query: { type, vsys: cfg.vsys }, form: { cmd }, signal };
    const res = await http.send(req);
    const answer = readAnswer(res);
    const where = http.where(req);
    if (res.status < 200 || res.status >= 300) throw statusFailure(KIND, res, where, answer?.said ?? res.text, http.scrub);
    if (!answer) {
      // A 2xx we cannot read may still have registered the tag: the executor reconciles before retrying.
      throw new ActionError(`${KIND}: ${where} answered ${res.status} with a body that is not a PAN-OS <response>: ${http.scrub(res.text.replace(/\s+/g, ' ').slice(0, 200))}`, true, undefined, type === 'user-id');
    }
    if (answer.ok) return { answer, already: false };
    if (answer.code === '403' || answer.code === '401' || /invalid credential/i.test(answer.said)) {
      throw new ActionError(`${KIND}: ${where}: the API key was refused: ${http.scrub(answer.said)}`, false);
    }
    if (tolerate(answer.entries)) return { answer, already: true };
    // PAN-OS errors are about the request (a bad command, an unknown vsys) unless it says it is busy.
    const busy = /busy|try again|timed? ?out|in progress/i.test(answer.said);
    throw new ActionError(`${KIND}: ${where} answered status="error": ${http.scrub(answer.said).slice(0, 300)}`, busy);
  }

  /** Every per-entry message says `pattern` (e.g. the tag is already registered): the operation is already done. */
  const onlySays = (pattern: RegExp) => (entries: string[]) => entries.length > 0 && entries.every((m) => pattern.test(m));

  return {
    name: cfg.name,
    kind: KIND,

    async execute(ctx: ActionContext): Promise<ActionOutcome> {
      const { address, from } = fw.address(ctx);
      const seconds = blockSeconds(KIND, cfg, ctx.action, { timeoutMs: DEFAULT_TIMEOUT_MS, maxMs: MAX_TAG_TIMEOUT_MS });
      const { already } = await call('user-id', uidMessage('register', address, cfg.tag, seconds), ctx.signal, onlySays(/already exist/i));
      return { detail: { address, from, tag: cfg.tag, timeout_s: seconds, ...(already ? { already: true } : {}) } };
    },

    async undo(ctx: UndoContext): Promise<ActionOutcome> {
      const r = ctx.originalResult;
      // Stored data is checked again like input: it goes into XML.
      const address = typeof r.address === 'string' ? canonicalIp(r.address) : null;
      if (!address) throw new ActionError(`${KIND}: the action to undo recorded no address`, false);
      const tag = typeof r.tag === 'string' && TAG.test(r.tag) ? r.tag : cfg.tag;
      const { already } = await call('user-id', uidMessage('unregister', address, tag), ctx.signal, onlySays(/not exist|not found|not registered/i));
      return { detail: { address, tag, removed: !already } };
    },

    async reconcile(ctx: ActionContext): Promise<Reconciled> {
      if (ctx.action.undo_of) return { done: false };
      const address = fw.addressOrNull(ctx)?.address;
      if (!address) return { done: false }; // execute will refuse it again, with its reason
      const { answer } = await call('op', `<show><object><registered-ip><ip>${xmlEscape(address)}</ip></registered-ip></object></show>`, ctx.signal);
      const registered = descendants(answer.root, 'entry').some(
        (e) => e.attrs.ip !== undefined && canonicalIp(e.attrs.ip) === address && descendants(e, 'member').some((m) => m.text.trim() === cfg.tag),
      );
      return registered ? { done: true, detail: { address, tag: cfg.tag } } : { done: false };
    },

    close: () => http.close(),
  };
}

const panosDag = defineAction({
  kind: KIND,
  description: 'Registers the offending IP address with a tag on a PAN-OS firewall (User-ID XML API) that a dynamic address group blocks (undo: unregisters it)',
  schema: PanosDagConfigSchema,
  check,
  create,
  reversible: true,
  containment: true,
});
export default panosDag;
