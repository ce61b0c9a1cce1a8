/**
 * What the product itself did with the event, from the words vendors use (CEF `act`, FortiOS `action`,
 * Sophos `log_subtype`, EDR mitigation status…) → allowed | blocked | quarantined | detected | unknown.
 * "detected" means the product only reported (IDS mode, log-only, "would have blocked"); "allowed" that it
 * explicitly let the activity through. Checked in that order because words combine ("IDS:Reset" is a
 * reset the sensor would have done in detect-only mode).
 */
import type { DetectorAction } from '../../model/alert.js';

const RULES: Array<[RegExp, DetectorAction]> = [
  // "not blocked", "Not Prevented": the product saw it and let it through, which is a detection, not a block.
  [/^not[ _-](blocked|prevented|quarantined|dropped|stopped|mitigated|cleaned|removed)\b/i, 'detected'],
  [/\b(ids|detect[- ]?only|would[- ]?(have[- ]?)?block|simulat|audit|monitor|tap)\b/i, 'detected'],
  [/quarantin|isolat|contain/i, 'quarantined'],
  [/block|den(y|ied)|drop|reject|reset|prevent|terminat|kill|delet|clean|remov|disinfect|stop|mitigat|refus|fail|blacklist/i, 'blocked'],
  [/allow|permit|accept|pass|success|ok\b|whitelist|bypass|continue/i, 'allowed'],
  [/\b(log|logged|alert|alerted|detect|detected|notif|notified|report|reported|observ|warn|info)/i, 'detected'],
];

export function mapAction(word: unknown): DetectorAction | undefined {
  if (typeof word !== 'string' || word.trim() === '') return undefined;
  const s = word.trim().slice(0, 200);
  for (const [re, action] of RULES) if (re.test(s)) return action;
  return 'unknown';
}
